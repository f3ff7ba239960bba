package core

import "regexp"

// Stack and stage names end up in host names (<stage>.<stack>.<domain>),
// Docker network and container names, and registry repository names, so
// they must be valid DNS labels in lower case.
var nameRE = regexp.MustCompile(`^[a-z]([a-z0-9-]*[a-z0-9])?$`)

const (
	MaxStackNameLen = 40
	MaxStageNameLen = 20
)

// ValidateStackName returns a CodeInvalid error describing what is allowed.
func ValidateStackName(name string) error {
	return validateName("stack", name, MaxStackNameLen)
}

// ValidateStageName returns a CodeInvalid error describing what is allowed.
func ValidateStageName(name string) error {
	return validateName("stage", name, MaxStageNameLen)
}

func validateName(kind, name string, max int) error {
	if name == "" {
		return Errorf(CodeInvalid, "%s name is empty: use lower-case letters, digits and '-', starting with a letter", kind)
	}
	if len(name) > max || !nameRE.MatchString(name) {
		return Errorf(CodeInvalid, "invalid %s name %q: use 1-%d lower-case letters, digits and '-', starting with a letter and not ending with '-'", kind, name, max)
	}
	return nil
}
