package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// kinds maps each apiVersion/kind the manifests may hold to a new value of its Go type.
var kinds = map[string]func() any{
	"v1/Namespace":                             func() any { return &corev1.Namespace{} },
	"v1/Service":                               func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                        func() any { return &corev1.ServiceAccount{} },
	"v1/ConfigMap":                             func() any { return &corev1.ConfigMap{} },
	"apps/v1/StatefulSet":                      func() any { return &appsv1.StatefulSet{} },
	"apps/v1/Deployment":                       func() any { return &appsv1.Deployment{} },
	"rbac.authorization.k8s.io/v1/Role":        func() any { return &rbacv1.Role{} },
	"rbac.authorization.k8s.io/v1/RoleBinding": func() any { return &rbacv1.RoleBinding{} },
	"monitoring.coreos.com/v1/ServiceMonitor":  func() any { return &monitoringv1.ServiceMonitor{} },
}

// kustomization is the part of kustomization.yaml checked here: the files it lists exist and are the
// directory's manifests, all of them.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
}

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

var documentSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// validateKubernetes strictly decodes every document of every manifest in dir into its API type.
func validateKubernetes(dir string) error {
	var listed kustomization
	raw, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		return err
	}
	if err := yaml.UnmarshalStrict(raw, &listed); err != nil {
		return fmt.Errorf("kustomization.yaml: %w", err)
	}
	manifests, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		return err
	}
	var found []string
	for _, path := range manifests {
		if filepath.Base(path) != "kustomization.yaml" {
			found = append(found, filepath.Base(path))
		}
	}
	resources := append([]string(nil), listed.Resources...)
	sort.Strings(found)
	sort.Strings(resources)
	if fmt.Sprint(found) != fmt.Sprint(resources) {
		return fmt.Errorf("kustomization.yaml lists %v, the directory holds %v", resources, found)
	}
	var problems []error
	for _, name := range found {
		if err := validateManifest(filepath.Join(dir, name)); err != nil {
			problems = append(problems, err)
		}
	}
	return errors.Join(problems...)
}

func validateManifest(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var problems []error
	for index, document := range documentSeparator.Split(string(raw), -1) {
		if len(bytes.TrimSpace([]byte(document))) == 0 {
			continue
		}
		if err := validateDocument([]byte(document)); err != nil {
			problems = append(problems, fmt.Errorf("%s, document %d: %w", path, index+1, err))
		}
	}
	return errors.Join(problems...)
}

func validateDocument(document []byte) error {
	var meta typeMeta
	if err := yaml.Unmarshal(document, &meta); err != nil {
		return err
	}
	newObject, known := kinds[meta.APIVersion+"/"+meta.Kind]
	if !known {
		return fmt.Errorf("unknown apiVersion/kind %s/%s", meta.APIVersion, meta.Kind)
	}
	return yaml.UnmarshalStrict(document, newObject())
}
