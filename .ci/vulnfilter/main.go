// Command vulnfilter reads `govulncheck -format json` on stdin and fails when
// our code calls a vulnerable function of a module we require. Findings in
// the Go standard library are the toolchain's: they are listed as a warning
// with the Go release that fixes them, since CI builds with the machine's Go.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
)

type frame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
}

type message struct {
	Finding *struct {
		OSV          string  `json:"osv"`
		FixedVersion string  `json:"fixed_version"`
		Trace        []frame `json:"trace"`
	} `json:"finding"`
}

func main() {
	dec := json.NewDecoder(os.Stdin)
	stdlib, modules := map[string]string{}, map[string]string{}
	for {
		var m message
		if err := dec.Decode(&m); err == io.EOF {
			break
		} else if err != nil {
			fmt.Fprintln(os.Stderr, "vulnfilter: reading govulncheck output:", err)
			os.Exit(2)
		}
		f := m.Finding
		if f == nil || len(f.Trace) == 0 || f.Trace[0].Function == "" {
			continue // not called from our code
		}
		where := f.Trace[0].Package + " (fixed in " + f.FixedVersion + ")"
		if f.Trace[0].Module == "stdlib" {
			stdlib[f.OSV] = where
		} else {
			modules[f.OSV] = f.Trace[0].Module + "@" + f.Trace[0].Version + ": " + where
		}
	}
	report := func(title string, set map[string]string) {
		ids := make([]string, 0, len(set))
		for id := range set {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		fmt.Println(title)
		for _, id := range ids {
			fmt.Printf("  %s  %s\n", id, set[id])
		}
	}
	if len(stdlib) > 0 {
		report(fmt.Sprintf("warning: %d vulnerabilities in the Go standard library of this toolchain are reachable; build releases with a Go that fixes them:", len(stdlib)), stdlib)
	}
	if len(modules) > 0 {
		report(fmt.Sprintf("FAIL: %d vulnerabilities in required modules are called:", len(modules)), modules)
		os.Exit(1)
	}
	fmt.Println("no called vulnerabilities in required modules")
}
