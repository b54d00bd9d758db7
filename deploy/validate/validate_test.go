package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShippedFilesAreValid(t *testing.T) {
	if err := validateCompose("../../docker-compose.yml"); err != nil {
		t.Fatal(err)
	}
	if err := validateKubernetes("../kubernetes"); err != nil {
		t.Fatal(err)
	}
}

// A misspelt field must fail: the check would otherwise pass anything.
func TestMisspeltKubernetesFieldIsRefused(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "kustomization.yaml", "resources: [set.yaml]\n")
	write(t, dir, "set.yaml", "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: x}\nspec:\n  replica: 2\n")
	err := validateKubernetes(dir)
	if err == nil || !strings.Contains(err.Error(), "replica") {
		t.Fatalf("want an error naming the field, got %v", err)
	}
}

func TestManifestMissingFromKustomizationIsRefused(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "kustomization.yaml", "resources: []\n")
	write(t, dir, "ns.yaml", "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n")
	if err := validateKubernetes(dir); err == nil {
		t.Fatal("want an error for ns.yaml not listed")
	}
}

func TestComposeSchemaErrorIsRefused(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "compose.yml", "services:\n  a:\n    image: x:1\n    deploy:\n      replica: 2\n")
	if err := validateCompose(filepath.Join(dir, "compose.yml")); err == nil {
		t.Fatal("want a schema error for deploy.replica")
	}
}

func write(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
