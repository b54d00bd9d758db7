//! What the integration tests share.

/// Deterministic normal noise: xorshift64* with the Box-Muller transform.
pub(crate) struct Noise {
    state: u64,
}

impl Noise {
    pub(crate) fn new(seed: u64) -> Noise {
        Noise { state: seed.max(1) }
    }

    fn uniform(&mut self) -> f64 {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let bits = self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11;
        // (0, 1]: the logarithm below never sees zero.
        (bits as f64 + 1.0) / (1u64 << 53) as f64
    }

    pub(crate) fn normal(&mut self, mean: f64, deviation: f64) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        mean + deviation * (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    pub(crate) fn series(&mut self, len: usize, mean: f64, deviation: f64) -> Vec<f64> {
        (0..len).map(|_| self.normal(mean, deviation)).collect()
    }
}
