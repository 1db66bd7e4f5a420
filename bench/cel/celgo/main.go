// Command celgo evaluates one CEL expression the way the apiserver evaluates a matchCondition -- cel-go,
// the strings extension, `object`, `oldObject` and `request` untyped, runtime cost tracking with the
// 1,000,000 per-expression limit -- on adversarial objects of growing size, and prints for each the
// best of three evaluation times, the result and the cost in cel-go units (issue 19 §1).
//
//	python bench/cel/bench_cel.py --expressions /tmp/cel   # the shipped conditions, and the old one
//	cd bench/cel/celgo && go mod tidy && go run . /tmp/cel/mcp-workload.cel owners 1 100 10000
//
// Families: optout (a ToolHive-labelled Service whose opt-out annotation is "a,a,..." of n
// characters), owners (an unlabelled Service mcp-web-sts with n StatefulSet ownerReferences, none its
// own), labels (n labels).
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
)

const perCallLimit = 1000000 // k8s.io/apiserver/pkg/apis/cel: PerCallLimit

func object(family string, n int) map[string]interface{} {
	meta := map[string]interface{}{"name": "mcp-web-sts", "namespace": "default"}
	switch family {
	case "optout":
		meta["labels"] = map[string]interface{}{"toolhive": "true"}
		meta["annotations"] = map[string]interface{}{"mcp-admission.io/skip-policies": strings.Repeat("a,", n/2)}
	case "owners":
		refs := make([]interface{}, n)
		for i := range refs {
			refs[i] = map[string]interface{}{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "other", "uid": "u"}
		}
		meta["ownerReferences"] = refs
	case "labels":
		labels := map[string]interface{}{}
		for i := 0; i < n; i++ {
			labels["example.com/label-"+strconv.Itoa(i)] = "xxxxxxxxxxxxxxxxxxxx"
		}
		meta["labels"] = labels
	default:
		panic("family: optout, owners or labels")
	}
	return map[string]interface{}{"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": map[string]interface{}{}}
}

func main() {
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: celgo EXPRESSION-FILE optout|owners|labels SIZE...")
		os.Exit(2)
	}
	env, err := cel.NewEnv(
		cel.Variable("object", cel.DynType), cel.Variable("oldObject", cel.DynType), cel.Variable("request", cel.DynType),
		ext.Strings(ext.StringsVersion(2)),
	)
	if err != nil {
		panic(err)
	}
	source, err := os.ReadFile(os.Args[1])
	if err != nil {
		panic(err)
	}
	ast, issues := env.Compile(string(source))
	if issues.Err() != nil {
		panic(issues.Err())
	}
	program, err := env.Program(ast, cel.CostLimit(perCallLimit), cel.EvalOptions(cel.OptTrackCost), cel.InterruptCheckFrequency(100))
	if err != nil {
		panic(err)
	}
	request := map[string]interface{}{
		"kind": map[string]interface{}{"group": "", "version": "v1", "kind": "Service"},
		"name": "mcp-web-sts", "namespace": "default", "operation": "CREATE",
	}
	for _, arg := range os.Args[3:] {
		n, err := strconv.Atoi(arg)
		if err != nil {
			panic(err)
		}
		vars := map[string]interface{}{"object": object(os.Args[2], n), "oldObject": nil, "request": request}
		best := time.Hour
		var result interface{}
		var cost uint64
		var evalErr error
		for round := 0; round < 3; round++ {
			start := time.Now()
			out, details, err := program.Eval(vars)
			if took := time.Since(start); took < best {
				best = took
			}
			result, evalErr = out, err
			if details != nil && details.ActualCost() != nil {
				cost = *details.ActualCost()
			}
		}
		fmt.Printf("%s n=%d time=%v result=%v cost=%d err=%v\n", os.Args[2], n, best, result, cost, evalErr)
	}
}
