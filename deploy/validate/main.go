// Command validate checks the deployment files offline, with the libraries the real tools use: the Compose
// file through compose-go (the loader and schema of `docker compose config`), and Kubernetes manifests by
// strict decoding into the API's own Go types, so a misspelt or misplaced field is an error, as the API
// server's strict field validation makes it.
//
//	go run . compose ../../docker-compose.yml
//	go run . kubernetes ../kubernetes
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: validate compose FILE | validate kubernetes DIR")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "compose":
		err = validateCompose(os.Args[2])
	case "kubernetes":
		err = validateKubernetes(os.Args[2])
	default:
		err = fmt.Errorf("unknown kind %q: compose or kubernetes", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "validate:", err)
		os.Exit(1)
	}
	fmt.Printf("validate: %s %s is valid\n", os.Args[1], os.Args[2])
}
