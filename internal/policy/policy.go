// Package policy decides, in code, whether a tool call the model asked for
// may run. It is asked before every call with a valid input goes to an
// operator or runs (agent.Runner.Check), and its one rule is: no policy,
// no write. The model reads text written by strangers (dispute evidence,
// metadata, a customer's name); it is never the only thing between that
// text and a refund.
//
// A call is checked against, in order:
//
//   - no_policy_no_write: a write (a Stripe write action, or a tool marked
//     writes: true) runs only if a policy covers it: a built-in Stripe
//     write policy, the tool's allow:, or its route's allow:.
//   - the built-in policies of the Stripe writes, which need no config:
//     event_objects_only (a write touches only objects the event is about,
//     or objects reached from them through a Stripe read in the same
//     conversation), refund_within_amount (a refund is bounded by the
//     object's own amount, or the dispute's for a dispute event) and
//     one_refund_per_charge (at most one refund per charge or
//     PaymentIntent per event).
//   - tools.<name>.allow[i]: CEL conditions every call of the tool meets.
//   - routes[<route>].allow[i]: CEL conditions every write call of the
//     route's tools meets.
//
// An expression that fails to evaluate (a missing field, a type error, the
// cost limit) or yields anything but true refuses the call: policies fail
// closed.
//
// Expressions see three variables:
//
//	input   the tool input, as the model sent it (JSON integers are ints)
//	event   the whole Stripe event
//	facts   what the event's journal says:
//	  facts.event_ids  ids the event's data.object refers to (its id, charge,
//	                   payment_intent, customer, invoice, subscription, …;
//	                   never ids inside customer-written fields such as
//	                   metadata, description or evidence)
//	  facts.reads      ids found in the results of Stripe read actions this
//	                   conversation ran on an object of facts.event_ids (or
//	                   one reached that way)
//	  facts.refunds    refunds this event made, by charge and by
//	                   PaymentIntent id: {"ch_…": {"count": 1, "amount": 500}}
//	                   (every attempt and replay)
//	  facts.refunded   the total amount refunded by this event
package policy

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"

	"github.com/agenthook/agenthook/internal/agent"
	"github.com/agenthook/agenthook/internal/config"
	"github.com/agenthook/agenthook/internal/tool"
)

// Names of the built-in rules, as journaled (journal.ToolCall.Refused)
// and shown to the model.
const (
	RuleNoPolicy     = "no_policy_no_write"
	RuleEventObjects = "event_objects_only"
	RuleRefundAmount = "refund_within_amount"
	RuleOneRefund    = "one_refund_per_charge"
	// RulePolicyInput refuses an input that is not JSON (the schema check
	// normally stops it first).
	RulePolicyInput = "policy_input"
)

// costLimit bounds the work of one evaluation (CEL cost units), as for
// routes' when: filters.
const costLimit = 100_000

// Set is the policies of every configured tool and route, compiled once at
// start. It is safe for concurrent use. A nil *Set checks nothing.
type Set struct {
	tools  map[string]toolSpec
	routes map[string][]rule
}

type toolSpec struct {
	action string // run.stripe, or ""
	read   bool   // runs a Stripe read action
	writes bool   // a Stripe write action or writes: true
	allow  []rule
}

// rule is one compiled allow: expression.
type rule struct {
	name string // tools.refund.allow[0], routes[disputes].allow[1]
	src  string
	prg  cel.Program
}

// New compiles the allow: expressions of cfg's tools and routes. Every
// error is returned, each naming the tool or route and the expression.
func New(cfg *config.Config) (*Set, error) {
	s := &Set{tools: map[string]toolSpec{}, routes: map[string][]rule{}}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(cfg.Tools)) {
		t := cfg.Tools[name]
		spec := toolSpec{writes: t.Writes}
		if t.Run != nil && t.Run.Stripe != "" {
			spec.action = t.Run.Stripe
			spec.writes = spec.writes || tool.IsStripeWrite(spec.action)
			spec.read = !tool.IsStripeWrite(spec.action) && slices.Contains(tool.StripeActions(), spec.action)
		}
		for i, src := range t.Allow {
			r, err := compile(fmt.Sprintf("tools.%s.allow[%d]", name, i), src)
			if err != nil {
				errs = append(errs, fmt.Errorf("tool %q: allow[%d]: %w", name, i, err))
				continue
			}
			spec.allow = append(spec.allow, r)
		}
		s.tools[name] = spec
	}
	for i, rt := range cfg.Routes {
		for j, src := range rt.Allow {
			r, err := compile(fmt.Sprintf("routes[%s].allow[%d]", rt.Name, j), src)
			if err != nil {
				errs = append(errs, fmt.Errorf("route %d (%s): allow[%d]: %w", i+1, rt.Name, j, err))
				continue
			}
			s.routes[rt.Name] = append(s.routes[rt.Name], r)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

func compile(name, src string) (rule, error) {
	ast, err := config.CompileAllow(src)
	if err != nil {
		return rule{}, err
	}
	env, err := config.AllowEnv()
	if err != nil {
		return rule{}, err
	}
	prg, err := env.Program(ast, cel.CostLimit(costLimit))
	if err != nil {
		return rule{}, fmt.Errorf("CEL expression %q: %w", src, err)
	}
	return rule{name: name, src: src, prg: prg}, nil
}

// builtin reports whether a Stripe write action has a built-in policy.
func builtin(action string) bool {
	switch action {
	case "refund.create", "dispute.update", "dispute.submit", "subscription.cancel", "invoice.pay", "invoice.void":
		return true
	}
	return false
}

// Check decides whether use, a call of a tool of route, may run, given
// what facts says about the event. A nil result lets it through. A call
// the built-in refund rules let through is counted in facts at once, so a
// second refund of the same charge in the same round is refused too.
func (s *Set) Check(route string, use agent.Block, f *Facts) *agent.Refused {
	if s == nil {
		return nil
	}
	spec, ok := s.tools[use.Name]
	if !ok {
		return nil // not a configured tool: the loop refuses it before asking
	}
	routeRules := s.routes[route]
	if spec.writes && !builtin(spec.action) && len(spec.allow) == 0 && len(routeRules) == 0 {
		return &agent.Refused{Rule: RuleNoPolicy, Reason: fmt.Sprintf(
			"%s changes something outside agenthook and no policy covers it (no policy, no write): the operator must add tools.%s.allow or the route's allow", use.Name, use.Name)}
	}
	if f == nil {
		f = &Facts{}
	}
	input, err := decode(use.Input)
	if err != nil {
		return &agent.Refused{Rule: RulePolicyInput, Reason: "the tool input is not JSON the policies can read: " + err.Error()}
	}
	in, _ := input.(map[string]any)
	if in == nil {
		in = map[string]any{}
		input = in
	}
	var claim []string
	if spec.writes && builtin(spec.action) {
		var no *agent.Refused
		if claim, no = f.checkStripeWrite(spec.action, in); no != nil {
			return no
		}
	}
	rules := spec.allow
	if spec.writes {
		rules = append(slices.Clip(rules), routeRules...)
	}
	if len(rules) > 0 {
		act := map[string]any{"input": input, "event": f.eventValue(), "facts": f.value()}
		for _, r := range rules {
			if no := r.eval(act); no != nil {
				return no
			}
		}
	}
	f.claim(use.ID, claim)
	return nil
}

// eval refuses unless the rule yields true. Anything else (false, an
// evaluation error, a value that is not a bool) refuses: fail closed.
func (r rule) eval(act map[string]any) (no *agent.Refused) {
	defer func() {
		if p := recover(); p != nil {
			no = &agent.Refused{Rule: r.name, Reason: fmt.Sprintf("policy %q could not be evaluated (internal error: %v), so the call is refused", r.src, p)}
		}
	}()
	v, _, err := r.prg.Eval(act)
	if err != nil {
		return &agent.Refused{Rule: r.name, Reason: fmt.Sprintf("policy %q could not be evaluated (%v), so the call is refused", r.src, err)}
	}
	b, ok := v.(types.Bool)
	if !ok {
		return &agent.Refused{Rule: r.name, Reason: fmt.Sprintf("policy %q yielded %v (%s), not a bool, so the call is refused", r.src, v, v.Type())}
	}
	if !b {
		return &agent.Refused{Rule: r.name, Reason: fmt.Sprintf("the call does not meet the policy %q", r.src)}
	}
	return nil
}

// checkStripeWrite applies the built-in policies of a Stripe write. It
// returns the charge/PaymentIntent ids a refund it lets through claims.
func (f *Facts) checkStripeWrite(action string, in map[string]any) ([]string, *agent.Refused) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var fields []string
	switch action {
	case "refund.create":
		fields = []string{"charge", "payment_intent"}
	default:
		fields = []string{"id"}
	}
	var targets []string
	for _, k := range fields {
		v, present := in[k]
		if !present || v == nil {
			continue
		}
		id, ok := v.(string)
		if !ok {
			return nil, &agent.Refused{Rule: RuleEventObjects, Reason: fmt.Sprintf("%s must be a Stripe id (a string)", k)}
		}
		if id == "" {
			continue
		}
		if !f.reachableLocked(id) {
			return nil, &agent.Refused{Rule: RuleEventObjects, Reason: fmt.Sprintf(
				"%s %s is not an object this event is about, nor one reached from it through a read in this conversation: a write may only touch those (objects of this event: %s)",
				k, id, strings.Join(f.eventIDList(), ", "))}
		}
		targets = append(targets, id)
	}
	if len(targets) == 0 {
		return nil, &agent.Refused{Rule: RuleEventObjects, Reason: fmt.Sprintf("give the id of the object to change (%s)", strings.Join(fields, " or "))}
	}
	if action != "refund.create" {
		return nil, nil
	}
	for _, id := range targets {
		if r := f.refundOfLocked(id); r.Count > 0 {
			return nil, &agent.Refused{Rule: RuleOneRefund, Reason: fmt.Sprintf(
				"this event already refunded %s (%d refund(s), amount %d): at most one refund per charge per event", id, r.Count, r.Amount)}
		}
		if f.claimedLocked(id) {
			return nil, &agent.Refused{Rule: RuleOneRefund, Reason: fmt.Sprintf(
				"another refund of %s was already let through for this event: at most one refund per charge per event", id)}
		}
	}
	target := targets[0]
	own, hasOwn := f.amounts[target]
	bound, hasBound := f.bounds[target]
	limit, known := own, hasOwn
	if hasBound && (!known || bound < limit) {
		limit, known = bound, true
	}
	raw, present := in["amount"]
	if !present || raw == nil {
		// A full refund refunds what is left of the object's amount, so it
		// is bounded only when that amount is known and no smaller bound
		// (a dispute for part of the charge) applies.
		switch {
		case !hasOwn && known:
			return nil, &agent.Refused{Rule: RuleRefundAmount, Reason: fmt.Sprintf(
				"a refund without amount refunds all of %s, whose amount this event does not show: give amount (at most %d)", target, limit)}
		case !hasOwn:
			return nil, &agent.Refused{Rule: RuleRefundAmount, Reason: fmt.Sprintf(
				"the amount of %s is not known from the event or a read in this conversation: retrieve it first, then give amount", target)}
		case limit < own:
			return nil, &agent.Refused{Rule: RuleRefundAmount, Reason: fmt.Sprintf(
				"a refund without amount refunds all of %s (%d), more than this event's bound of %d: give amount (at most %d)", target, own, limit, limit)}
		}
		return targets, nil
	}
	amount, ok := raw.(int64)
	if !ok {
		return nil, &agent.Refused{Rule: RuleRefundAmount, Reason: "amount must be an integer in the currency's smallest unit"}
	}
	if !known {
		return nil, &agent.Refused{Rule: RuleRefundAmount, Reason: fmt.Sprintf(
			"the amount of %s is not known from the event or a read in this conversation: retrieve it first", target)}
	}
	if amount > limit {
		return nil, &agent.Refused{Rule: RuleRefundAmount, Reason: fmt.Sprintf(
			"amount %d is more than %d, the amount of %s this event allows refunding", amount, limit, target)}
	}
	return targets, nil
}

// decode reads JSON as config.CELValue does; empty input is an empty
// object, so a missing input or result reads as having no fields.
func decode(raw []byte) (any, error) {
	v, err := config.CELValue(raw)
	if v == nil && err == nil {
		return map[string]any{}, nil
	}
	return v, err
}
