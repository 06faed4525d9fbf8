//! The fake's endpoints: members, batch create, tags as static segments.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Audience, PAGE_MAX, STATUSES, Shared, World, lock};
use crate::mailchimp::address::{normalize, subscriber_hash};
use crate::mailchimp::client::BATCH_MAX;

pub(super) fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = json!({
        "type": "https://mailchimp.com/developer/marketing/docs/errors/",
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
        "instance": "fake",
    });
    (status, axum::Json(body)).into_response()
}

fn bad_request(detail: &str) -> Response {
    problem(StatusCode::BAD_REQUEST, "Invalid Resource", detail)
}

fn not_found() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "Resource Not Found",
        "The requested resource could not be found.",
    )
}

fn member_json(list: &Audience, hash: &str) -> Value {
    let (email, status) = &list.members[hash];
    let tags: Vec<Value> = list
        .segments
        .iter()
        .filter(|(_, (_, members))| members.contains(hash))
        .map(|(id, (name, _))| json!({"id": id, "name": name}))
        .collect();
    json!({"id": hash, "email_address": email, "status": status, "tags": tags})
}

fn looks_valid(email: &str) -> bool {
    crate::mailchimp::address::is_valid(&normalize(email))
}

fn world(shared: &Shared) -> std::sync::MutexGuard<'_, World> {
    lock(&shared.world)
}

pub(super) async fn get_member(
    State(shared): State<Arc<Shared>>,
    Path((list_id, hash)): Path<(String, String)>,
) -> Response {
    let world = world(&shared);
    match world.lists.get(&list_id) {
        Some(list) if list.members.contains_key(&hash) => {
            axum::Json(member_json(list, &hash)).into_response()
        }
        _ => not_found(),
    }
}

pub(super) async fn member_tags(
    State(shared): State<Arc<Shared>>,
    Path((list_id, hash)): Path<(String, String)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let mut world = world(&shared);
    let next_id = world.next_segment_id;
    let Some(list) = world.lists.get_mut(&list_id) else {
        return not_found();
    };
    if list.forgotten.contains(&hash) {
        return problem(
            StatusCode::BAD_REQUEST,
            "Forgotten Email Not Subscribed",
            "This address was permanently deleted.",
        );
    }
    if !list.members.contains_key(&hash) {
        return not_found();
    }
    let tags = body["tags"].as_array().cloned().unwrap_or_default();
    let mut created = 0;
    for tag in tags {
        let name = tag["name"].as_str().unwrap_or_default().to_string();
        let active = tag["status"].as_str() == Some("active");
        let found = list
            .segments
            .iter_mut()
            .find(|(_, (n, _))| n.eq_ignore_ascii_case(&name));
        match (found, active) {
            (Some((_, (_, members))), true) => {
                members.insert(hash.clone());
            }
            (Some((_, (_, members))), false) => {
                members.remove(&hash);
            }
            (None, true) => {
                let id = next_id + created;
                list.segments
                    .insert(id, (name, BTreeSet::from([hash.clone()])));
                created += 1;
            }
            (None, false) => {}
        }
    }
    world.next_segment_id += created;
    StatusCode::NO_CONTENT.into_response()
}

pub(super) async fn batch_subscribe(
    State(shared): State<Arc<Shared>>,
    Path(list_id): Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let Some(members) = body["members"].as_array() else {
        return bad_request("members: required");
    };
    if members.len() > BATCH_MAX {
        return bad_request("members: at most 500 items");
    }
    let update_existing = body["update_existing"].as_bool().unwrap_or(false);
    let mut world = world(&shared);
    let Some(list) = world.lists.get_mut(&list_id) else {
        return not_found();
    };
    let mut answer = BatchAnswer::default();
    for member in members {
        subscribe_one(list, member, update_existing, &mut answer);
    }
    axum::Json(answer.into_json(list)).into_response()
}

#[derive(Default)]
struct BatchAnswer {
    new: Vec<String>,
    updated: Vec<String>,
    errors: Vec<Value>,
    seen: BTreeSet<String>,
}

impl BatchAnswer {
    fn error(&mut self, email: &str, error: &str, code: &str) {
        self.errors
            .push(json!({"email_address": email, "error": error, "error_code": code}));
    }

    fn into_json(self, list: &Audience) -> Value {
        let render = |hashes: &[String]| -> Vec<Value> {
            hashes.iter().map(|h| member_json(list, h)).collect()
        };
        json!({
            "new_members": render(&self.new),
            "updated_members": render(&self.updated),
            "errors": self.errors,
            "total_created": self.new.len(),
            "total_updated": self.updated.len(),
            "error_count": self.errors.len(),
        })
    }
}

fn subscribe_one(
    list: &mut Audience,
    member: &Value,
    update_existing: bool,
    answer: &mut BatchAnswer,
) {
    let email = member["email_address"].as_str().unwrap_or_default();
    let status = member["status"].as_str().unwrap_or_default();
    let hash = subscriber_hash(email);
    if !looks_valid(email) {
        return answer.error(
            email,
            "This email address looks fake or invalid.",
            "ERROR_GENERIC",
        );
    }
    if !STATUSES.contains(&status) {
        return answer.error(
            email,
            "status: must be one of the member statuses",
            "ERROR_GENERIC",
        );
    }
    if !answer.seen.insert(hash.clone()) {
        return answer.error(email, "duplicate address in the request", "ERROR_GENERIC");
    }
    if list.forgotten.contains(&hash) {
        let error = format!("{email} was permanently deleted and cannot be re-imported.");
        return answer.error(email, &error, "ERROR_GENERIC");
    }
    let existing = list.members.get(&hash).map(|(_, s)| s.clone());
    match existing {
        Some(old) if old == "archived" || update_existing => {
            list.members
                .insert(hash.clone(), (normalize(email), status.into()));
            answer.updated.push(hash);
        }
        Some(_) => answer.error(
            email,
            &format!("{email} is already a list member."),
            "ERROR_CONTACT_EXISTS",
        ),
        None => {
            list.members
                .insert(hash.clone(), (normalize(email), status.into()));
            answer.new.push(hash);
        }
    }
}

fn page_bounds(query: &HashMap<String, String>) -> Result<(usize, usize), &'static str> {
    let number =
        |key: &str, default: usize| query.get(key).map_or(Ok(default), |v| v.parse::<usize>());
    let (Ok(count), Ok(offset)) = (number("count", 10), number("offset", 0)) else {
        return Err("count and offset must be numbers");
    };
    if count > PAGE_MAX {
        return Err("count: at most 1000");
    }
    Ok((count, offset))
}

pub(super) async fn list_segments(
    State(shared): State<Arc<Shared>>,
    Path(list_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (count, offset) = match page_bounds(&query) {
        Ok(bounds) => bounds,
        Err(detail) => return bad_request(detail),
    };
    let world = world(&shared);
    let Some(list) = world.lists.get(&list_id) else {
        return not_found();
    };
    let segments: Vec<Value> = list
        .segments
        .iter()
        .skip(offset)
        .take(count)
        .map(|(id, (name, m))| json!({"id": id, "name": name, "type": "static", "member_count": m.len()}))
        .collect();
    axum::Json(json!({"segments": segments, "total_items": list.segments.len()})).into_response()
}

pub(super) async fn create_segment(
    State(shared): State<Arc<Shared>>,
    Path(list_id): Path<String>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let name = body["name"].as_str().unwrap_or_default().trim().to_string();
    let Some(initial) = body["static_segment"].as_array() else {
        return bad_request("static_segment: required for a tag");
    };
    let mut world = world(&shared);
    let id = world.next_segment_id;
    let Some(list) = world.lists.get_mut(&list_id) else {
        return not_found();
    };
    if name.is_empty() {
        return bad_request("name: required");
    }
    if list
        .segments
        .values()
        .any(|(n, _)| n.eq_ignore_ascii_case(&name))
    {
        return bad_request("Sorry, that tag already exists.");
    }
    let members = initial
        .iter()
        .filter_map(|e| e.as_str().map(subscriber_hash))
        .filter(|h| list.members.contains_key(h))
        .collect::<BTreeSet<_>>();
    let count = members.len();
    list.segments.insert(id, (name.clone(), members));
    world.next_segment_id += 1;
    axum::Json(json!({"id": id, "name": name, "type": "static", "member_count": count}))
        .into_response()
}

pub(super) async fn batch_segment(
    State(shared): State<Arc<Shared>>,
    Path((list_id, segment_id)): Path<(String, i64)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let emails = |key: &str| -> Vec<String> {
        let items = body[key].as_array().cloned().unwrap_or_default();
        items
            .iter()
            .filter_map(|e| e.as_str().map(String::from))
            .collect()
    };
    let (add, remove) = (emails("members_to_add"), emails("members_to_remove"));
    if add.len() > BATCH_MAX || remove.len() > BATCH_MAX {
        return bad_request("members_to_add and members_to_remove: at most 500 items each");
    }
    let mut world = world(&shared);
    let Some(list) = world.lists.get_mut(&list_id) else {
        return not_found();
    };
    let Some((_, members)) = list.segments.get_mut(&segment_id) else {
        return not_found();
    };
    let mut answer = SegmentAnswer::default();
    for email in &add {
        let hash = subscriber_hash(email);
        let known = list
            .members
            .get(&hash)
            .is_some_and(|(_, s)| s != "archived");
        match (looks_valid(email), known) {
            (false, _) => answer
                .errors
                .push(json!({"email_addresses": [email], "error": "Invalid email address"})),
            (true, true) => {
                members.insert(hash.clone());
                answer.added.push(hash);
            }
            (true, false) => {}
        }
    }
    for email in &remove {
        let hash = subscriber_hash(email);
        if members.remove(&hash) {
            answer.removed.push(hash);
        }
    }
    axum::Json(answer.into_json(list)).into_response()
}

#[derive(Default)]
struct SegmentAnswer {
    added: Vec<String>,
    removed: Vec<String>,
    errors: Vec<Value>,
}

impl SegmentAnswer {
    fn into_json(self, list: &Audience) -> Value {
        let render = |hashes: &[String]| -> Vec<Value> {
            hashes
                .iter()
                .filter(|h| list.members.contains_key(*h))
                .map(|h| member_json(list, h))
                .collect()
        };
        json!({
            "members_added": render(&self.added),
            "members_removed": render(&self.removed),
            "errors": self.errors,
            "total_added": self.added.len(),
            "total_removed": self.removed.len(),
            "error_count": self.errors.len(),
        })
    }
}

pub(super) async fn segment_members(
    State(shared): State<Arc<Shared>>,
    Path((list_id, segment_id)): Path<(String, i64)>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let (count, offset) = match page_bounds(&query) {
        Ok(bounds) => bounds,
        Err(detail) => return bad_request(detail),
    };
    let included = |status: &str| match status {
        "cleaned" | "transactional" | "unsubscribed" => {
            query.get(&format!("include_{status}")).map(String::as_str) == Some("true")
        }
        _ => true,
    };
    let world = world(&shared);
    let Some(list) = world.lists.get(&list_id) else {
        return not_found();
    };
    let Some((_, members)) = list.segments.get(&segment_id) else {
        return not_found();
    };
    let visible: Vec<&String> = members
        .iter()
        .filter(|h| list.members.get(*h).is_some_and(|(_, s)| included(s)))
        .collect();
    let page: Vec<Value> = visible
        .iter()
        .skip(offset)
        .take(count)
        .map(|h| member_json(list, h))
        .collect();
    axum::Json(json!({"members": page, "total_items": visible.len()})).into_response()
}
