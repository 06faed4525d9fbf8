//! Creating, reading, updating and deleting segments; names, colours, tiers, loops.

use super::*;

#[tokio::test]
async fn creates_static_and_dynamic_segments() {
    let (_dir, service) = tenant(&four_clients()).await;
    let mut new = dynamic("  US clients ", country_is("us"));
    new.colour = Some("#A1B2C3".into());
    new.tier = Some(" Wholesale".into());
    new.description = Some("  everyone in the US ".into());
    let us = service.create_segment(new).await.unwrap();
    assert_eq!(
        (
            us.name.as_str(),
            us.colour.as_deref(),
            us.tier.as_deref(),
            us.description.as_deref()
        ),
        (
            "US clients",
            Some("#a1b2c3"),
            Some("wholesale"),
            Some("everyone in the US")
        )
    );
    assert_eq!(
        (us.kind, us.rule_version, us.member_count),
        (SegmentKind::Dynamic, 1, 2)
    );
    let last = us.last_refresh.clone().unwrap();
    assert_eq!(
        (last.count, last.entered, last.left, last.rule_version),
        (2, 2, 0, 1)
    );
    check_members(&service, us.id, &[1, 3]);

    let key = service
        .create_segment(listed("Key accounts"))
        .await
        .unwrap();
    assert_eq!(
        (key.kind, key.member_count, key.rule),
        (SegmentKind::Static, 0, None)
    );
    assert_eq!(service.segment(us.id).unwrap(), us);
    let all = service.segments().unwrap();
    assert_eq!(
        all.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![us.id, key.id]
    );
    let json = serde_json::to_value(&all[0]).unwrap();
    assert_eq!(json["kind"], "dynamic");
    assert_eq!(json["rule"], country_is("us"));
    assert!(
        json["created_at"].as_str().unwrap().ends_with('Z'),
        "{json}"
    );
}

#[tokio::test]
async fn h08_names_collide_after_trimming_and_case_folding() {
    let (_dir, service) = tenant(&four_clients()).await;
    let vip = service.create_segment(listed("VIP")).await.unwrap();
    let error = service.create_segment(listed(" vip")).await.unwrap_err();
    assert!(matches!(error, ServiceError::Conflict(_)), "{error}");
    assert_eq!(
        error.to_string(),
        "name \"vip\" is taken by segment 1 \"VIP\" (names compare after trimming and case \
         folding)"
    );
    let other = service.create_segment(listed("Other")).await.unwrap();
    let rename = SegmentPatch {
        name: Some("Vip  ".into()),
        ..SegmentPatch::default()
    };
    let error = service.update_segment(other.id, rename).await.unwrap_err();
    assert!(matches!(error, ServiceError::Conflict(_)), "{error}");
    // A segment may keep its own name in another case.
    let same = SegmentPatch {
        name: Some("vip".into()),
        ..SegmentPatch::default()
    };
    assert_eq!(
        service.update_segment(vip.id, same).await.unwrap().name,
        "vip"
    );
    assert_eq!(stored_rows(&service).0, 2);
}

#[track_caller]
fn check_refused(result: Result<SegmentView>, expected: &str) {
    let error = result.expect_err("refused");
    assert!(!error.is_internal(), "{error:?}");
    assert_eq!(error.to_string(), expected);
}

#[tokio::test]
async fn bad_segments_are_refused_and_nothing_is_stored() {
    let (_dir, service) = tenant(&four_clients()).await;
    let with = |f: fn(&mut NewSegment)| {
        let mut new = listed("Fine");
        f(&mut new);
        new
    };
    let cases = [
        (
            with(|n| n.colour = Some("red".into())),
            "colour \"red\": expected #rrggbb, six hexadecimal digits after '#'",
        ),
        (
            with(|n| n.colour = Some("#12345g".into())),
            "colour \"#12345g\": expected #rrggbb, six hexadecimal digits after '#'",
        ),
        (
            with(|n| n.tier = Some("gold".into())),
            "tier \"gold\": expected one of retail, wholesale, vip, staff",
        ),
        (
            with(|n| n.name = "   ".into()),
            "name \"   \": must not be blank",
        ),
        (
            with(|n| n.name = "x".repeat(101)),
            &format!(
                "name \"{}...\" (101 characters): is longer than 100 characters",
                "x".repeat(60)
            ),
        ),
        (
            with(|n| n.rule = Some(country_is("US"))),
            "rule: a static segment lists its members and takes no rule",
        ),
        (
            with(|n| n.kind = SegmentKind::Dynamic),
            "rule: a dynamic segment needs a rule",
        ),
    ];
    for (new, expected) in cases {
        check_refused(service.create_segment(new).await, expected);
    }
    let bad_rule = json!({"all": [{"field": "country", "op": "gt", "value": "US"}]});
    let error = service
        .create_segment(dynamic("Bad", bad_rule))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ServiceError::BadRule(e) if e.path() == "$.all[0].op"),
        "{error}"
    );
    let unknown = service
        .create_segment(dynamic("Reader", reads(42)))
        .await
        .unwrap_err();
    assert_eq!(unknown.to_string(), "$.value: segment 42 does not exist");
    assert_eq!(stored_rows(&service), (0, 0, 0));
}

#[tokio::test]
async fn a_rule_change_bumps_the_version_and_republishes() {
    let (_dir, service) = tenant(&four_clients()).await;
    let us = service
        .create_segment(dynamic("Here", country_is("US")))
        .await
        .unwrap();
    let patch = SegmentPatch {
        rule: Some(country_is("DE")),
        ..SegmentPatch::default()
    };
    let de = service.update_segment(us.id, patch).await.unwrap();
    assert_eq!((de.rule_version, de.member_count), (2, 1));
    check_members(&service, us.id, &[2]);
    assert_eq!(service.state().membership(us.id).unwrap().rule_version, 2);
    // Sending the same rule again, or changing only the description, changes no version.
    let same = SegmentPatch {
        rule: Some(country_is("DE")),
        description: Some(Some("Germany".into())),
        ..SegmentPatch::default()
    };
    let described = service.update_segment(us.id, same).await.unwrap();
    assert_eq!(
        (described.rule_version, described.description.as_deref()),
        (2, Some("Germany"))
    );
    let cleared = SegmentPatch {
        description: Some(None),
        ..SegmentPatch::default()
    };
    assert_eq!(
        service
            .update_segment(us.id, cleared)
            .await
            .unwrap()
            .description,
        None
    );
    let history = service.history(us.id, None).unwrap();
    let versions: Vec<i64> = history.iter().map(|h| h.rule_version).collect();
    assert_eq!(versions, vec![1, 2]);
}

#[tokio::test]
async fn updates_that_do_not_fit_are_refused() {
    let (_dir, service) = tenant(&four_clients()).await;
    let us = service
        .create_segment(dynamic("Here", country_is("US")))
        .await
        .unwrap();
    let key = service.create_segment(listed("Key")).await.unwrap();
    let kind = SegmentPatch {
        kind: Some(SegmentKind::Static),
        ..SegmentPatch::default()
    };
    let error = service.update_segment(us.id, kind).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "kind: segment 1 is dynamic; a segment's kind cannot change to static"
    );
    let rule = SegmentPatch {
        rule: Some(country_is("US")),
        ..SegmentPatch::default()
    };
    let error = service.update_segment(key.id, rule).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "rule: a static segment lists its members and takes no rule"
    );
    let missing = service
        .update_segment(99, SegmentPatch::default())
        .await
        .unwrap_err();
    assert_eq!(missing.to_string(), "segment 99 does not exist");
    assert_eq!(service.segment(us.id).unwrap().rule_version, 1);
}

#[tokio::test]
async fn segment_conditions_that_would_loop_are_refused() {
    let (_dir, service) = tenant(&four_clients()).await;
    let a = service
        .create_segment(dynamic("A", country_is("US")))
        .await
        .unwrap();
    let b = service
        .create_segment(dynamic("B", reads(a.id)))
        .await
        .unwrap();
    let c = service
        .create_segment(dynamic("C", reads(b.id)))
        .await
        .unwrap();
    let closing = SegmentPatch {
        rule: Some(json!({"any": [country_is("DE"), reads(c.id)]})),
        ..SegmentPatch::default()
    };
    let error = service.update_segment(a.id, closing).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "segment conditions would loop: segment 1 \"A\" -> segment 3 \"C\" -> segment 2 \"B\" \
         -> segment 1 \"A\"; a segment cannot read itself"
    );
    let own = SegmentPatch {
        rule: Some(reads(a.id)),
        ..SegmentPatch::default()
    };
    let error = service.update_segment(a.id, own).await.unwrap_err();
    assert!(matches!(error, ServiceError::Conflict(_)), "{error}");
    assert_eq!(service.segment(a.id).unwrap().rule_version, 1);
    check_members(&service, c.id, &[1, 3]);
}

#[tokio::test]
async fn segments_read_current_memberships_and_follow_changes() {
    let (_dir, service) = tenant(&four_clients()).await;
    let key = service.create_segment(listed("Key")).await.unwrap();
    service.add_members(key.id, &[1]).await.unwrap();
    let rule = json!({"any": [reads(key.id), country_is("DE")]});
    let reader = service
        .create_segment(dynamic("Key or DE", rule))
        .await
        .unwrap();
    check_members(&service, reader.id, &[1, 2]);
    let not_key = json!({"field": "segment", "op": "is_not", "value": key.id});
    let outside = service
        .create_segment(dynamic("Outside", not_key))
        .await
        .unwrap();
    check_members(&service, outside.id, &[2, 3, 4]);
    // Adding to the static list republishes what reads it, transitively, at once.
    service.add_members(key.id, &[3]).await.unwrap();
    check_members(&service, reader.id, &[1, 2, 3]);
    check_members(&service, outside.id, &[2, 4]);
    let history = service.history(outside.id, None).unwrap();
    assert_eq!(
        history.last().map(|h| (h.count, h.entered, h.left)),
        Some((2, 0, 1))
    );
}

#[tokio::test]
async fn a_segment_read_by_another_cannot_be_deleted() {
    let (_dir, service) = tenant(&four_clients()).await;
    let base = service
        .create_segment(dynamic("Base", country_is("US")))
        .await
        .unwrap();
    let reader = service
        .create_segment(dynamic("Reader", reads(base.id)))
        .await
        .unwrap();
    let error = service.delete_segment(base.id).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "segment 1 \"Base\" is read by the rules of segment 2 \"Reader\"; change those rules first"
    );
    service.delete_segment(reader.id).await.unwrap();
    service.delete_segment(base.id).await.unwrap();
    assert!(service.state().memberships.is_empty());
    assert_eq!(stored_rows(&service), (0, 0, 0));
    let error = service.delete_segment(base.id).await.unwrap_err();
    assert_eq!(error.to_string(), "segment 1 does not exist");
    assert!(matches!(
        service.segment(base.id),
        Err(ServiceError::NotFound { .. })
    ));
}

#[tokio::test]
async fn patches_and_new_segments_read_from_json() {
    let new: NewSegment = serde_json::from_value(json!({
        "name": "VIP", "kind": "dynamic", "color": "#000000", "rule": {"all": []}
    }))
    .unwrap();
    assert_eq!(new.colour.as_deref(), Some("#000000"));
    let patch: SegmentPatch = serde_json::from_value(json!({"tier": null, "name": "X"})).unwrap();
    assert_eq!(
        (patch.tier, patch.colour, patch.name.as_deref()),
        (Some(None), None, Some("X"))
    );
    let unknown = serde_json::from_value::<SegmentPatch>(json!({"nmae": "X"})).unwrap_err();
    assert!(
        unknown.to_string().contains("unknown field `nmae`"),
        "{unknown}"
    );
}

#[tokio::test]
async fn saving_a_rule_with_empty_groups_answers_with_their_paths() {
    let (_dir, service) = tenant(&four_clients()).await;
    let rule = serde_json::json!({"any": [{"all": []}, {"none": []}]});
    let saved = service
        .create_segment(dynamic("Everyone", rule))
        .await
        .unwrap();
    let paths: Vec<&str> = saved.warnings.iter().map(|w| w.path.as_str()).collect();
    assert_eq!(paths, ["$.any[0]", "$.any[1]"]);
    assert_eq!(service.segment(saved.id).unwrap().warnings, saved.warnings);

    let patch: SegmentPatch =
        serde_json::from_value(serde_json::json!({"rule": {"any": []}})).unwrap();
    let patched = service.update_segment(saved.id, patch).await.unwrap();
    assert_eq!(patched.warnings.len(), 1);
    assert_eq!(
        patched.warnings[0].message,
        "empty \"any\" group matches nobody"
    );
    assert_eq!(patched.member_count, 0);
}
