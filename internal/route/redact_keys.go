package route

import "strings"

// The key patterns of the default redaction. A value is personal data or
// a secret because of the key it sits under, read with the Stripe shape
// around it: the key itself, the key of the enclosing object (parent) and
// that object's "object" tag (kind: "product", "issuing.cardholder", …).
// Keys are compared in lower case, with a trailing _kana or _kanji (the
// Japanese variants of names and addresses) removed.
//
// Personal, whatever the value (booleans excepted: "email_verified": true
// or "tax_id_provided": true say nothing about a person):
//
//   - emails: email, emails, *_email (receipt_email, support_email,
//     customer_email, billing_email), *email_address.
//   - phones: phone, phones, fax, mobile, *_phone (support_phone,
//     customer_phone), *phone_number (phone_number, phone_numbers).
//   - names: *_name (first_name, last_name, maiden_name, customer_name,
//     sender_name, account_holder_name, cardholder_name, individual_name,
//     verified_name, business_name, …) and username, except the labels in
//     nonPersonalNameKeys (display_name, bank_name, product_name, …);
//     and name itself, except in the objects of nonPersonalNameKinds
//     (product, plan, price, coupon, tax_rate, …) and under the parents of
//     nonPersonalNameParents (product_data, business_profile, company,
//     merchant_data, …): billing_details.name, shipping.name,
//     customer.name, card.name and owner.name are a person's, product.name
//     and plan.name are not. nickname (price.nickname, plan.nickname) is
//     never a person's and stays.
//   - addresses: address, addresses, *_address (billing_address,
//     shipping_address, registered_address, support_address, email and IP
//     addresses), line1, line2, postal_code, zip, the legacy card fields
//     address_line1, address_line2, address_city, address_state and
//     address_zip (but not address_country, and not the *_check results
//     such as address_line1_check: a decision on fraud needs them),
//     shipping, customer_shipping, shipping_details (not amount_shipping
//     or shipping_rate), latitude, longitude.
//   - network: ip, *_ip (tos_acceptance.ip, customer_purchase_ip),
//     ip_address*, user_agent, *_user_agent.
//   - dates of birth: dob, *_dob, date_of_birth, birth_date, birthday.
//   - tax and national ids: tax_id, tax_ids, *_tax_id(s), vat_id, id_number
//     (personal_id_number), ssn, ssn_last_4, the value of a tax_id object.
//   - bank accounts: account_number, routing_number, iban, sort_code,
//     bsb_number, transit_number, institution_number, branch_code.
//   - cards: fingerprint (it identifies a card across merchants), cvc, and
//     number where a card or identity document number sits (in an
//     issuing.card, under card or document).
//   - secrets: client_secret, secret, *_secret, password, api_key,
//     secret_key, access_token, refresh_token, private_key, and the
//     payload of an apps.secret. (Not "authorization": in Stripe it holds
//     an issuing authorization's id; a bearer token in any value is taken
//     out by the value detectors.)
//
// Settings that only name a personal field are not redacted: values under
// customer_update (checkout's {"address": "auto"}), under a *_collection
// key, and the merchant's custom_text.
//
// Left visible on purpose: amounts, ids (ch_…, cus_…, dp_…, pm_…),
// currency, status, reason, dates other than birth dates, last4, brand,
// exp_month/exp_year, country and address_country, the *_check results,
// and free text such as description (the value detectors of
// redact_detect.go still take emails, phones, IPs, card numbers and
// secrets out of it).
func personalKey(key, parent, kind string) bool {
	k := strings.ToLower(key)
	k = strings.TrimSuffix(strings.TrimSuffix(k, "_kana"), "_kanji")
	p := strings.ToLower(parent)
	if p == "customer_update" || p == "custom_text" || strings.HasSuffix(p, "_collection") {
		return false
	}
	if exactPersonal[k] {
		return true
	}
	for _, s := range personalSuffixes {
		if k == s || strings.HasSuffix(k, "_"+s) {
			return true
		}
	}
	switch {
	case strings.HasSuffix(k, "email_address"), strings.HasSuffix(k, "email_addresses"),
		strings.HasSuffix(k, "phone_number"), strings.HasSuffix(k, "phone_numbers"),
		strings.HasPrefix(k, "ip_address"), strings.HasSuffix(k, "ip_address"), strings.HasSuffix(k, "ip_addresses"),
		strings.HasSuffix(k, "user_agent"), strings.HasSuffix(k, "id_number"),
		strings.HasSuffix(k, "date_of_birth"):
		return true
	case k == "name":
		return !nonPersonalNameKinds[kind] && !nonPersonalNameParents[p]
	case strings.HasSuffix(k, "_name"):
		return !nonPersonalNameKeys[k]
	case k == "number":
		return kind == "issuing.card" || p == "card" || p == "document"
	case k == "value":
		return kind == "tax_id"
	case k == "payload":
		return kind == "apps.secret"
	}
	return false
}

// exactPersonal are key names personal data or a secret sits under, as
// they are (after lower-casing).
var exactPersonal = map[string]bool{
	"emails": true, "phones": true, "fax": true, "mobile": true,
	// the legacy card fields (not address_country, not the *_check
	// results, not address_source, an enum)
	"address_line1": true, "address_line2": true, "address_city": true, "address_state": true, "address_zip": true,
	"addresses": true, "line1": true, "line2": true, "postal_code": true, "zip": true,
	"shipping": true, "customer_shipping": true, "shipping_details": true, "latitude": true, "longitude": true,
	"ips": true, "birth_date": true, "birthday": true,
	"ssn": true, "ssn_last_4": true, "vat_id": true,
	"iban": true, "sort_code": true, "bsb_number": true, "transit_number": true, "institution_number": true, "branch_code": true,
	"fingerprint": true, "cvc": true, "cvv": true,
	"username": true,
	"password": true, "api_key": true, "secret_key": true, "access_token": true, "refresh_token": true,
	"private_key": true,
}

// personalSuffixes match a key equal to one of them or ending in "_" and
// one of them: "email" matches email, receipt_email and support_email.
var personalSuffixes = []string{
	"email", "phone", "address", "ip", "dob",
	"tax_id", "tax_ids", "account_number", "routing_number", "iban",
	"secret",
}

// nonPersonalNameKeys are *_name keys that label a thing, not a person.
var nonPersonalNameKeys = map[string]bool{
	// account_name is invoice.account_name: the merchant's own account.
	"display_name": true, "bank_name": true, "domain_name": true, "event_name": true, "account_name": true,
	"institution_name": true, "product_name": true, "merchant_display_name": true,
	"public_name": true, "plan_name": true, "price_name": true, "feature_name": true,
	"file_name": true, "network_name": true, "brand_name": true, "carrier_name": true,
	"statement_descriptor_name": true, "report_name": true, "meter_name": true,
}

// nonPersonalNameKinds are Stripe object types whose "name" labels a
// product, a rule or a configuration.
var nonPersonalNameKinds = map[string]bool{
	"product": true, "plan": true, "price": true, "coupon": true, "promotion_code": true,
	"tax_rate": true, "tax_code": true, "shipping_rate": true, "discount": true,
	"entitlements.feature": true, "product_feature": true,
	"billing.meter": true, "billing.credit_grant": true, "billing.alert": true,
	"billing_portal.configuration": true, "payment_method_configuration": true,
	"radar.value_list": true, "reporting.report_type": true, "sigma.sigma_api_query": true,
	"terminal.configuration": true, "terminal.location": true, "terminal.reader": true,
	"test_helpers.test_clock": true, "issuing.personalization_design": true, "issuing.physical_bundle": true,
	"climate.product": true, "climate.supplier": true, "application": true, "apps.secret": true,
	"margin": true, "product_catalog.trial_offer": true, "financial_connections.institution": true,
	"webhook_endpoint": true, "file": true, "tax.registration": true,
}

// nonPersonalNameParents are keys whose object's "name" is a business,
// a product or a label, where Stripe sends no "object" tag.
var nonPersonalNameParents = map[string]bool{
	"product": true, "product_data": true, "plan": true, "price": true, "price_data": true,
	"coupon": true, "feature": true, "entitlement_feature": true, "meter": true, "tax_rate": true,
	"shipping_rate": true, "shipping_rate_data": true, "business_profile": true, "company": true,
	"merchant_data": true, "application": true, "supplier": true, "suppliers": true,
	"headers": true, "physical_bundle": true,
}
