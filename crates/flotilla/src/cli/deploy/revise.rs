//! The new revision `deploy` registers: the service's current task definition with the
//! images and environment variables the command line changes, as a RegisterTaskDefinition
//! input. Pure: every mistake (an unknown container, an image that is not a reference) is
//! found here, before anything is changed.

use serde_json::{json, Map, Value};

use super::super::image;

/// The members of a DescribeTaskDefinition answer that RegisterTaskDefinition takes back.
const REGISTERED: &[&str] = &[
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
    "enableFaultInjection",
];

/// What the command line asks to change.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// `(container, image as written, its parts)`; no container means the definition's
    /// only one.
    pub images: Vec<(Option<String>, String, image::ImageRef)>,
    /// `(container, name, value)`; no container means every container.
    pub env: Vec<(Option<String>, String, String)>,
}

impl Changes {
    /// `--image [CONTAINER=]IMAGE` and `--env [CONTAINER/]NAME=VALUE` flags, each image
    /// checked as Docker reads references.
    pub fn parse(images: &[String], env: &[String]) -> Result<Changes, String> {
        let mut out = Changes::default();
        for flag in images {
            let (container, reference) = match flag.split_once('=') {
                Some((c, i)) => (Some(c.to_string()), i),
                None => (None, flag.as_str()),
            };
            let parts = image::parse(reference).map_err(|e| format!("--image {flag}: {e}"))?;
            out.images.push((container, reference.to_string(), parts));
        }
        for flag in env {
            let (target, value) = flag.split_once('=').ok_or_else(|| {
                format!("--env {flag}: expected NAME=VALUE (or CONTAINER/NAME=VALUE)")
            })?;
            let (container, name) = match target.split_once('/') {
                Some((c, n)) => (Some(c.to_string()), n),
                None => (None, target),
            };
            if name.is_empty() {
                return Err(format!("--env {flag}: the variable's name is empty"));
            }
            out.env
                .push((container, name.to_string(), value.to_string()));
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.images.is_empty() && self.env.is_empty()
    }
}

/// The container `wanted` names among `names`: the only one when none is named.
fn container<'a>(names: &'a [String], wanted: Option<&str>, flag: &str) -> Result<&'a str, String> {
    match wanted {
        Some(w) => names
            .iter()
            .find(|n| *n == w)
            .map(String::as_str)
            .ok_or_else(|| {
                format!(
                    "{flag}: the task definition has no container '{w}' (it has {})",
                    names.join(", ")
                )
            }),
        None if names.len() == 1 => Ok(&names[0]),
        None => Err(format!(
            "{flag}: the task definition has {} containers ({}); name one, as CONTAINER=IMAGE",
            names.len(),
            names.join(", ")
        )),
    }
}

/// The RegisterTaskDefinition input for `current` (a `taskDefinition`) with `changes`
/// made, keeping `tags`. Errors name the flag at fault.
pub fn revise(current: &Value, tags: &Value, changes: &Changes) -> Result<Value, String> {
    let mut input = Map::new();
    for key in REGISTERED {
        if let Some(v) = current.get(*key).filter(|v| !v.is_null()) {
            input.insert((*key).to_string(), v.clone());
        }
    }
    if tags.as_array().is_some_and(|t| !t.is_empty()) {
        input.insert("tags".into(), tags.clone());
    }
    let mut containers: Vec<Value> = current["containerDefinitions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<String> = containers
        .iter()
        .map(|c| c["name"].as_str().unwrap_or_default().to_string())
        .collect();
    for (wanted, reference, _) in &changes.images {
        let name = container(&names, wanted.as_deref(), "--image")?;
        let c = containers.iter_mut().find(|c| c["name"] == name);
        if let Some(c) = c {
            c["image"] = json!(reference);
        }
    }
    for (wanted, key, value) in &changes.env {
        let targets: Vec<String> = match wanted {
            Some(w) => vec![container(&names, Some(w), "--env")?.to_string()],
            None => names.clone(),
        };
        for c in containers.iter_mut().filter(|c| {
            c["name"]
                .as_str()
                .is_some_and(|n| targets.iter().any(|t| t == n))
        }) {
            let vars = c
                .as_object_mut()
                .map(|o| o.entry("environment").or_insert_with(|| json!([])));
            let Some(Value::Array(vars)) = vars else {
                continue;
            };
            match vars.iter_mut().find(|v| v["name"] == key.as_str()) {
                Some(v) => v["value"] = json!(value),
                None => vars.push(json!({"name": key, "value": value})),
            }
        }
    }
    input.insert("containerDefinitions".into(), Value::Array(containers));
    Ok(Value::Object(input))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current() -> Value {
        json!({
            "taskDefinitionArn": "arn:aws:ecs:us-east-1:000000000000:task-definition/web:3",
            "family": "web", "revision": 3, "status": "ACTIVE", "networkMode": "bridge",
            "registeredAt": 1.0, "requiresAttributes": [], "compatibilities": ["EC2"],
            "containerDefinitions": [
                {"name": "app", "image": "web:v1", "memory": 64,
                 "environment": [{"name": "COLOUR", "value": "blue"}]},
                {"name": "sidecar", "image": "proxy:v1", "memory": 32}]})
    }

    #[test]
    fn keeps_what_register_takes_and_changes_what_was_asked() {
        let changes = Changes::parse(
            &["app=127.0.0.1:4567/web:v2".into()],
            &["COLOUR=green".into(), "sidecar/MODE=fast".into()],
        )
        .unwrap();
        let tags = json!([{"key": "team", "value": "a"}]);
        let input = revise(&current(), &tags, &changes).unwrap();
        for gone in [
            "taskDefinitionArn",
            "revision",
            "status",
            "registeredAt",
            "compatibilities",
        ] {
            assert!(input.get(gone).is_none(), "{gone}");
        }
        assert_eq!(input["family"], "web");
        assert_eq!(input["tags"], tags);
        let c = &input["containerDefinitions"];
        assert_eq!(c[0]["image"], "127.0.0.1:4567/web:v2");
        assert_eq!(c[1]["image"], "proxy:v1");
        assert_eq!(
            c[0]["environment"],
            json!([{"name": "COLOUR", "value": "green"}])
        );
        assert_eq!(
            c[1]["environment"],
            json!([{"name": "COLOUR", "value": "green"}, {"name": "MODE", "value": "fast"}])
        );
    }

    #[test]
    fn mistakes_are_named_before_anything_changes() {
        let bad = |images: &[&str], env: &[&str]| {
            let images: Vec<String> = images.iter().map(|s| s.to_string()).collect();
            let env: Vec<String> = env.iter().map(|s| s.to_string()).collect();
            Changes::parse(&images, &env)
                .and_then(|c| revise(&current(), &Value::Null, &c))
                .unwrap_err()
        };
        assert!(bad(&["web:v2"], &[]).contains("2 containers"));
        assert!(bad(&["db=web:v2"], &[]).contains("no container 'db'"));
        assert!(bad(&["app=Web:v2"], &[]).contains("lower case"));
        assert!(bad(&[], &["NOVALUE"]).contains("NAME=VALUE"));
        assert!(bad(&[], &["db/X=1"]).contains("no container 'db'"));
    }

    #[test]
    fn the_only_container_needs_no_name() {
        let mut one = current();
        one["containerDefinitions"].as_array_mut().unwrap().pop();
        let changes = Changes::parse(&["web:v2".into()], &[]).unwrap();
        let input = revise(&one, &json!([]), &changes).unwrap();
        assert_eq!(input["containerDefinitions"][0]["image"], "web:v2");
        assert!(input.get("tags").is_none());
    }
}
