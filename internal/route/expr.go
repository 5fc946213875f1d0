package route

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/common/types/traits"
)

// Limits on CEL expressions from config. An expression is written by the
// operator, but it runs on every event, whose content the sender controls.
const (
	// exprCostLimit bounds the work of one evaluation (CEL cost units,
	// roughly one per operation and per element a comprehension visits).
	// Filters over a Stripe event cost tens of units; this leaves room for
	// comprehensions over line items while stopping runaway ones.
	exprCostLimit = 100_000
	// maxExprLen bounds the source text, in code points.
	maxExprLen = 4096
)

// eventVars are the top-level keys of a Stripe event, declared as dyn so
// an expression can use them directly: type == "charge.refunded",
// data.object.amount >= 100000, !livemode.
var eventVars = []string{"id", "object", "api_version", "created", "data", "livemode", "pending_webhooks", "request", "type", "account", "context"}

var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	opts := []cel.EnvOption{
		cel.CrossTypeNumericComparisons(true),
		cel.ParserExpressionSizeLimit(maxExprLen),
		cel.ParserRecursionLimit(100),
	}
	for _, v := range eventVars {
		opts = append(opts, cel.Variable(v, cel.DynType))
	}
	// "event" is the whole event, for keys not declared above.
	opts = append(opts, cel.Variable("event", cel.DynType))
	return cel.NewEnv(opts...)
})

// Expr is a compiled CEL expression over a Stripe event. It is safe for
// concurrent use.
type Expr struct {
	src string
	prg cel.Program
}

// CompileExpr compiles src, a CEL expression (https://cel.dev) over a
// Stripe event. The event's top-level keys are variables (id, type,
// created, livemode, data, request, api_version, object,
// pending_webhooks, account, context) and "event" is the whole event.
// JSON integers are CEL ints, other numbers doubles; comparisons across
// the two work (amount >= 100000.5), arithmetic needs a conversion
// (double(amount) * 1.5).
func CompileExpr(src string) (*Expr, error) {
	e, _, err := compileExpr(src)
	return e, err
}

func compileExpr(src string) (*Expr, *cel.Type, error) {
	env, err := celEnv()
	if err != nil {
		return nil, nil, fmt.Errorf("CEL environment: %w", err)
	}
	if strings.TrimSpace(src) == "" {
		return nil, nil, errors.New("empty CEL expression: write one, or remove the key")
	}
	ast, iss := env.Compile(src)
	if iss.Err() != nil {
		return nil, nil, fmt.Errorf("CEL expression %q does not compile: fix it (variables: %s, event): %w", src, strings.Join(eventVars, ", "), iss.Err())
	}
	prg, err := env.Program(ast, cel.CostLimit(exprCostLimit))
	if err != nil {
		return nil, nil, fmt.Errorf("CEL expression %q: %w", src, err)
	}
	return &Expr{src: src, prg: prg}, ast.OutputType(), nil
}

// compileFilter compiles a when: expression and checks that it can yield
// a bool.
func compileFilter(src string) (*Expr, error) {
	e, t, err := compileExpr(src)
	if err != nil {
		return nil, err
	}
	if !t.IsExactType(cel.BoolType) && !t.IsExactType(cel.DynType) {
		return nil, fmt.Errorf("CEL expression %q yields %s, not a bool: a filter must be a condition, such as data.object.amount >= 100000", src, t)
	}
	return e, nil
}

// String returns the expression's source.
func (e *Expr) String() string { return e.src }

// Eval evaluates e over payload, a Stripe event as JSON, and returns the
// result as a value encoding/json can marshal: nil, bool, int64, uint64,
// float64, string, []any or map[string]any. A missing key
// (data.object.nope) is an error; guard with has(data.object.nope).
func (e *Expr) Eval(payload []byte) (any, error) {
	act, err := activation(payload)
	if err != nil {
		return nil, err
	}
	return e.eval(act)
}

func (e *Expr) eval(act map[string]any) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("CEL expression %q: internal error: %v", e.src, r)
		}
	}()
	v, _, err := e.prg.Eval(act)
	if err != nil {
		return nil, fmt.Errorf("CEL expression %q: %w", e.src, err)
	}
	out, err = toJSONValue(v, 0)
	if err != nil {
		return nil, fmt.Errorf("CEL expression %q: %w", e.src, err)
	}
	return out, nil
}

// activation decodes a Stripe event into the variables of an expression.
func activation(payload []byte) (map[string]any, error) {
	root, err := parseTree(payload)
	if err != nil {
		return nil, fmt.Errorf("parse Stripe event: %w", err)
	}
	return activationOf(root)
}

func activationOf(root *node) (map[string]any, error) {
	ev, ok := root.native().(map[string]any)
	if !ok {
		return nil, errors.New("parse Stripe event: the payload is not a JSON object")
	}
	act := make(map[string]any, len(eventVars)+1)
	for _, k := range eventVars {
		if v, ok := ev[k]; ok {
			act[k] = v
		}
	}
	act["event"] = ev
	return act, nil
}

// toJSONValue converts a CEL result to a plain Go value.
func toJSONValue(v ref.Val, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("result nested deeper than %d levels", maxDepth)
	}
	switch v := v.(type) {
	case types.Null:
		return nil, nil
	case types.Bool:
		return bool(v), nil
	case types.Int:
		return int64(v), nil
	case types.Uint:
		return uint64(v), nil
	case types.Double:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("result %v is not a JSON number", f)
		}
		return f, nil
	case types.String:
		return string(v), nil
	case types.Bytes:
		return base64.StdEncoding.EncodeToString(v), nil
	case types.Timestamp:
		return v.Time.UTC().Format(time.RFC3339Nano), nil
	case types.Duration:
		return v.Duration.String(), nil
	case *types.Err:
		return nil, v
	}
	if l, ok := v.(traits.Lister); ok {
		out := []any{}
		for it := l.Iterator(); it.HasNext() == types.True; {
			e, err := toJSONValue(it.Next(), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, e)
		}
		return out, nil
	}
	if m, ok := v.(traits.Mapper); ok {
		out := map[string]any{}
		for it := m.Iterator(); it.HasNext() == types.True; {
			k := it.Next()
			val, found := m.Find(k)
			if !found {
				continue
			}
			e, err := toJSONValue(val, depth+1)
			if err != nil {
				return nil, err
			}
			ks, ok := k.(types.String)
			if !ok {
				kv, err := toJSONValue(k, depth+1)
				if err != nil {
					return nil, err
				}
				out[fmt.Sprint(kv)] = e
				continue
			}
			out[string(ks)] = e
		}
		return out, nil
	}
	return nil, fmt.Errorf("result of type %s cannot be turned into JSON", v.Type())
}

// Allows reports whether the route's when: filter lets the event in
// payload through. A route without a filter allows every event. An
// evaluation error (a missing key, a type mismatch, the cost limit) means
// the event is filtered: Allows returns false with the error, for the
// caller to journal as the reason.
func (r Route) Allows(payload []byte) (bool, error) {
	if r.When == "" {
		return true, nil
	}
	if r.when == nil || r.when.src != r.When { // a Route built by hand
		w, err := compileFilter(r.When)
		if err != nil {
			return false, fmt.Errorf("route %s when: %w", r.Name, err)
		}
		r.when = w
	}
	act, err := activation(payload)
	if err != nil {
		return false, fmt.Errorf("route %s when: %w", r.Name, err)
	}
	return r.allows(act)
}

func (r Route) allows(act map[string]any) (bool, error) {
	v, err := r.when.eval(act)
	if err != nil {
		return false, fmt.Errorf("route %s when: %w (the event is filtered; guard optional fields with has(), e.g. has(data.object.customer) && …)", r.Name, err)
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("route %s when: CEL expression %q yielded %T, not a bool (the event is filtered): make it a condition", r.Name, r.When, v)
	}
	return b, nil
}
