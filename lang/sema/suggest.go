package sema

import "github.com/mdlc/mdlc/internal/suggest"

func didYouMean(name string, candidates []string) string {
	if c := suggest.Closest(name, candidates); c != "" {
		return "did you mean `" + c + "`?"
	}
	return ""
}
