package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
)

// validateCompose loads a Compose file as `docker compose config` does: schema, interpolation, references
// between services, volumes and build targets.
func validateCompose(file string) error {
	absolute, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	options, err := cli.NewProjectOptions(
		[]string{absolute},
		cli.WithWorkingDirectory(filepath.Dir(absolute)),
		cli.WithOsEnv,
		cli.WithResolvedPaths(true),
	)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	if len(project.Services) == 0 {
		return fmt.Errorf("%s: no services", file)
	}
	return nil
}
