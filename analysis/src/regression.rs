//! Change points in a series of runs: E-divisive means with a Student t-test for significance.
