use serde_json::json;

use super::*;
use crate::facts::{CustomField, CustomKind};

fn custom() -> Vec<CustomField> {
    let field = |name: &str, kind| CustomField {
        name: name.into(),
        kind,
    };
    vec![
        field("industry", CustomKind::Text),
        field("employees", CustomKind::Integer),
        field("credit_limit", CustomKind::Money),
        field("score", CustomKind::Float),
        field("newsletter", CustomKind::Boolean),
        field("contract_end", CustomKind::Date),
    ]
}

fn condition(json: serde_json::Value) -> Condition {
    match Rule::from_json(&json, &custom()).unwrap().root {
        RuleNode::Condition(c) => c,
        other => panic!("expected a condition, got {other:?}"),
    }
}

#[track_caller]
fn check_error(json: serde_json::Value, path: &str, fragment: &str) {
    let error = Rule::from_json(&json, &custom()).unwrap_err();
    assert_eq!(error.path(), path, "{error}");
    assert!(
        error.to_string().contains(fragment),
        "{error:?} lacks {fragment:?}"
    );
}

fn cond(field: &str, op: &str, value: serde_json::Value) -> serde_json::Value {
    json!({"field": field, "op": op, "value": value})
}

#[test]
fn negative_ops_are_negated_positive_tests() {
    let c = condition(cond("country", "is_not", json!(" US ")));
    assert!(c.negated);
    assert_eq!(
        c.test,
        Test::Text {
            field: TextField::Country,
            test: TextTest::Equals("us".into())
        }
    );

    let c = condition(cond(
        "last_purchase_date",
        "not_within_last",
        json!({"days": 90}),
    ));
    assert!(c.negated);
    assert_eq!(
        c.test,
        Test::Date {
            field: DateField::LastPurchase,
            test: DateTest::WithinLast(Span::Days(90))
        }
    );

    let c = condition(cond("tag", "has_not", json!("VIP ")));
    assert_eq!((c.negated, c.test), (true, Test::Tag("vip".into())));
}

#[test]
fn money_thresholds_are_exact_cents() {
    for value in [json!(1000), json!(1000.0), json!("1000.00"), json!("1000")] {
        let c = condition(cond("total_revenue", "gt", value));
        let expected = NumberTest::Compare(CompareOp::Gt, Number::Int(100_000));
        assert_eq!(
            c.test,
            Test::Number {
                field: NumberField::TotalRevenue,
                test: expected
            }
        );
    }
}

#[test]
fn reads_every_value_form() {
    let c = condition(cond(
        "created_at",
        "between",
        json!(["2024-01-01", {"months_ago": 1}]),
    ));
    let low = DateValue::Fixed(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
    let expected = DateTest::Between(low, DateValue::MonthsAgo(1));
    assert_eq!(
        c.test,
        Test::Date {
            field: DateField::CreatedAt,
            test: expected
        }
    );

    let c = condition(cond("purchased_product", "is", json!("SKU-1")));
    assert_eq!(c.test, Test::Product(ProductRef::Sku("SKU-1".into())));
    let c = condition(cond("purchased_product", "is_not", json!(42)));
    assert_eq!(
        (c.negated, c.test),
        (true, Test::Product(ProductRef::Id(42)))
    );
    let c = condition(cond("revenue_rank", "top", json!(20)));
    assert_eq!(c.test, Test::RevenueTop(20));
    let c = condition(cond("custom.newsletter", "is", json!(false)));
    assert_eq!(
        c.test,
        Test::Flag {
            field: "newsletter".into(),
            value: false
        }
    );
    let c = condition(json!({"field": "city", "op": "is_empty"}));
    assert_eq!(
        c.test,
        Test::Text {
            field: TextField::City,
            test: TextTest::Empty
        }
    );
    let c = condition(cond("custom.score", "between", json!([0.5, 2])));
    let expected = NumberTest::Between(Number::Float(0.5), Number::Float(2.0));
    assert_eq!(
        c.test,
        Test::Number {
            field: NumberField::Custom("score".into()),
            test: expected
        }
    );
}

#[test]
fn errors_name_the_json_path() {
    let rule = |inner| json!({"all": [cond("country", "is", json!("US")), {"any": [inner]}]});
    check_error(
        rule(cond("colour", "is", json!("x"))),
        "$.all[1].any[0].field",
        "unknown field",
    );
    check_error(
        rule(cond("country", "gt", json!("x"))),
        "$.all[1].any[0].op",
        "is, is_not",
    );
    check_error(
        rule(cond("country", "is", json!(3))),
        "$.all[1].any[0].value",
        "a string",
    );
    let huge: serde_json::Value = serde_json::from_str("99999999999999999999999").unwrap();
    check_error(
        rule(cond("total_revenue", "gt", huge)),
        "$.all[1].any[0].value",
        "expected an amount of at most 92233720368547758.07 either way",
    );
    check_error(
        rule(cond("created_at", "on", json!("2024-02-30"))),
        "$.all[1].any[0].value",
        "not a date",
    );
    check_error(
        rule(cond("total_revenue", "gt", json!("10.005"))),
        "$.all[1].any[0].value",
        "more than 2",
    );
    check_error(
        rule(cond("custom.nope", "is", json!("x"))),
        "$.all[1].any[0].field",
        "custom.industry",
    );
    check_error(
        rule(cond("custom.employees", "is", json!(3))),
        "$.all[1].any[0].op",
        "gt",
    );
    check_error(
        rule(cond("total_revenue", "between", json!([100, "10"]))),
        "$.all[1].any[0].value",
        "the low end 100 is above the high end \"10\"",
    );
    check_error(
        rule(cond(
            "created_at",
            "before",
            json!({"days_ago": 99_999_999}),
        )),
        "$.all[1].any[0].value.days_ago",
        "from 0 to 36600",
    );
    check_error(
        rule(cond("created_at", "before", json!({"days_ago": -5}))),
        "$.all[1].any[0].value.days_ago",
        "a whole number from 0 to 36600",
    );
    check_error(
        rule(cond("created_at", "within_last", json!({"months": -1}))),
        "$.all[1].any[0].value.months",
        "a whole number from 0 to 1200",
    );
    check_error(
        rule(cond("created_at", "within_last", json!({"months": 1_201}))),
        "$.all[1].any[0].value.months",
        "from 0 to 1200",
    );
    check_error(
        rule(cond("country", "in", json!(["US", 1]))),
        "$.all[1].any[0].value[1]",
        "a string",
    );
    check_error(
        rule(json!({"all": [], "any": []})),
        "$.all[1].any[0]",
        "exactly one key",
    );
    check_error(
        rule(json!({"field": "country"})),
        "$.all[1].any[0]",
        "\"op\"",
    );
    check_error(rule(json!([1])), "$.all[1].any[0]", "group or a condition");
    check_error(
        rule(cond(
            "last_purchase_date",
            "within_last",
            json!({"weeks": 2}),
        )),
        "$.all[1].any[0].value",
        "{\"days\": N}",
    );
}

#[test]
fn depth_limit_is_32_groups() {
    let nest = |depth: usize| {
        let mut node = cond("country", "is", json!("US"));
        for _ in 0..depth {
            node = json!({"all": [node]});
        }
        node
    };
    assert!(Rule::from_json(&nest(32), &[]).is_ok());
    let error = Rule::from_json(&nest(33), &[]).unwrap_err();
    assert!(
        matches!(error, RuleError::TooDeep { limit: 32, .. }),
        "{error:?}"
    );
    assert_eq!(error.path(), format!("${}", ".all[0]".repeat(32)));
}

#[test]
fn condition_limit_is_10_000() {
    let many = |n: usize| json!({"any": vec![cond("country", "is", json!("US")); n]});
    assert!(Rule::from_json(&many(10_000), &[]).is_ok());
    let error = Rule::from_json(&many(10_001), &[]).unwrap_err();
    assert_eq!(
        error,
        RuleError::TooManyConditions {
            path: "$.any[10000]".into(),
            limit: 10_000
        }
    );
}

#[test]
fn empty_groups_and_lists_warn_with_paths() {
    let json = json!({"all": [{"any": []}, {"none": []}, cond("country", "not_in", json!([]))]});
    let rule = Rule::from_json(&json, &[]).unwrap();
    let paths: Vec<&str> = rule.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(paths, ["$.all[0]", "$.all[1]", "$.all[2]"]);
    assert_eq!(
        rule.warnings[0].message,
        "empty \"any\" group matches nobody"
    );
    assert_eq!(
        rule.warnings[2].message,
        "\"not_in\" with an empty list matches every client"
    );
}

#[test]
fn lists_segment_references() {
    let json = json!({"any": [cond("segment", "is", json!(3)), cond("segment", "is_not", json!(1)),
        {"all": [cond("segment", "is", json!(3))]}]});
    assert_eq!(Rule::from_json(&json, &[]).unwrap().segment_refs(), [1, 3]);
}
