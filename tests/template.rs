//! The SAM template (`infra/template.yaml`) against the code: the HTTP API's routes are what
//! the operations' declaration says API Gateway needs, both ways, and every route of the code
//! reaches its function, the table/key/queues equal what `keyhook provision` creates locally,
//! every setting of `Config` is set, and each function's role grants exactly the actions
//! docs/deploy.md lists (no wildcards). No AWS needed: the template is parsed as YAML, with
//! CloudFormation's short tags (`!Ref`, `!GetAtt`, `!Sub`, ...) read as their long forms.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use aws_sdk_dynamodb::types::{KeyType, ProjectionType};
use keyhook_cli::provision::{
    table_definition, DELIVERY_MAX_RECEIVE_COUNT, DELIVERY_VISIBILITY_TIMEOUT,
    MAIL_MAX_RECEIVE_COUNT, MAIL_VISIBILITY_TIMEOUT, STREAM_VIEW,
};
use keyhook_shared::app::routes::gateway_routes;
use keyhook_shared::app::{Function, ROUTES};
use keyhook_shared::consumers::deliveries::stream::{MAX_RECORD_AGE, MAX_RETRY_ATTEMPTS};
use serde_json::{json, Value};

fn repo_file(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(path)
}

/// A YAML value as JSON, CloudFormation short tags turned into their long forms.
fn to_json(v: serde_yaml::Value) -> Value {
    use serde_yaml::Value as Y;
    match v {
        Y::Null => Value::Null,
        Y::Bool(b) => json!(b),
        Y::Number(n) => serde_json::to_value(&n).expect("number"),
        Y::String(s) => json!(s),
        Y::Sequence(s) => Value::Array(s.into_iter().map(to_json).collect()),
        Y::Mapping(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let k = match k {
                        Y::String(s) => s,
                        other => serde_yaml::to_string(&other).unwrap().trim().to_string(),
                    };
                    (k, to_json(v))
                })
                .collect(),
        ),
        Y::Tagged(t) => {
            let tag = t.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = to_json(t.value);
            match name {
                "Ref" | "Condition" => json!({ name: inner }),
                // `!GetAtt A.B` is `Fn::GetAtt: [A, B]`.
                "GetAtt" => match inner {
                    Value::String(s) => {
                        let (a, b) = s.split_once('.').expect("!GetAtt Resource.Attribute");
                        json!({ "Fn::GetAtt": [a, b] })
                    }
                    other => json!({ "Fn::GetAtt": other }),
                },
                _ => json!({ format!("Fn::{name}"): inner }),
            }
        }
    }
}

fn template() -> Value {
    let text = std::fs::read_to_string(repo_file("infra/template.yaml")).expect("template");
    to_json(serde_yaml::from_str(&text).expect("template is YAML"))
}

fn resources_of_type<'a>(t: &'a Value, kind: &str) -> Vec<(&'a String, &'a Value)> {
    t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .collect()
}

fn resource<'a>(t: &'a Value, name: &str) -> &'a Value {
    let r = &t["Resources"][name];
    assert!(r.is_object(), "resource {name} is in the template");
    r
}

/// `{"Fn::GetAtt": [X, "Arn"]}` -> X.
fn getatt_target(v: &Value) -> Option<&str> {
    v["Fn::GetAtt"][0].as_str()
}

/// The function resources, by the code's function name (`keyhook-webhook` -> "webhook").
fn functions(t: &Value) -> BTreeMap<String, (&String, &Value)> {
    resources_of_type(t, "AWS::Serverless::Function")
        .into_iter()
        .map(|(id, f)| {
            let binary = f["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_else(|| panic!("{id} names its binary in Metadata.BuildProperties"));
            let name = binary
                .strip_prefix("keyhook-")
                .unwrap_or_else(|| panic!("{id}: binary {binary} is a keyhook function"));
            (name.to_string(), (id, f))
        })
        .collect()
}

/// The template's HTTP API routes: route key (`METHOD /path`, `ANY /path` or `$default`) ->
/// the code's name of the function its integration invokes.
fn template_routes(t: &Value) -> BTreeMap<String, String> {
    let by_id: BTreeMap<&String, String> = functions(t)
        .into_iter()
        .map(|(name, (id, _))| (id, name))
        .collect();
    let mut routes = BTreeMap::new();
    for (id, route) in resources_of_type(t, "AWS::ApiGatewayV2::Route") {
        let props = &route["Properties"];
        assert_eq!(
            props["ApiId"],
            json!({"Ref": "HttpApi"}),
            "{id} is on HttpApi"
        );
        let key = props["RouteKey"].as_str().expect("RouteKey");
        let target = props["Target"]["Fn::Sub"]
            .as_str()
            .unwrap_or_else(|| panic!("{id}: Target is !Sub integrations/${{...}}"));
        let integration = target
            .strip_prefix("integrations/${")
            .and_then(|s| s.strip_suffix('}'))
            .unwrap_or_else(|| panic!("{id}: target {target}"));
        let integration = resource(t, integration);
        assert_eq!(integration["Type"], "AWS::ApiGatewayV2::Integration");
        assert_eq!(integration["Properties"]["IntegrationType"], "AWS_PROXY");
        assert_eq!(integration["Properties"]["PayloadFormatVersion"], "2.0");
        let function_id = getatt_target(&integration["Properties"]["IntegrationUri"])
            .unwrap_or_else(|| panic!("{id}: integration targets a function of the template"));
        let function = by_id
            .iter()
            .find(|(fid, _)| fid.as_str() == function_id)
            .map(|(_, name)| name.clone())
            .unwrap_or_else(|| panic!("{id}: {function_id} is a Keyhook function"));
        assert!(
            routes.insert(key.to_string(), function).is_none(),
            "{key} is declared twice"
        );
    }
    routes
}

/// Whether a route's path template fits a request path (`{name}` is one segment; a greedy
/// `{proxy+}` last segment is one or more).
fn template_fits(template: &str, path: &str) -> bool {
    if let Some(prefix) = template.strip_suffix("/{proxy+}") {
        return path
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('/'))
            .is_some_and(|rest| !rest.is_empty());
    }
    let (t, p): (Vec<&str>, Vec<&str>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| t == p || (t.starts_with('{') && t.ends_with('}')))
}

/// The route API Gateway picks for `method path` among `routes`, as HTTP APIs select: the
/// most specific path (fewest `{params}`, a greedy `{proxy+}` last), the method's own route
/// before `ANY` on that path, `$default` when no route fits.
fn gateway_pick<'a>(routes: &'a BTreeMap<String, String>, method: &str, path: &str) -> &'a str {
    let fitting: Vec<(&str, &str)> = routes
        .keys()
        .filter_map(|key| key.split_once(' '))
        .filter(|(_, template)| template_fits(template, path))
        .collect();
    let rank = |t: &str| {
        if t.ends_with("{proxy+}") {
            usize::MAX
        } else {
            t.matches('{').count()
        }
    };
    let fewest = fitting.iter().map(|(_, t)| rank(t)).min();
    let best: Vec<&(&str, &str)> = fitting
        .iter()
        .filter(|(_, t)| Some(rank(t)) == fewest)
        .collect();
    best.iter()
        .find(|(m, _)| *m == method)
        .or_else(|| best.iter().find(|(m, _)| *m == "ANY"))
        .map(|(m, t)| &routes[&format!("{m} {t}")])
        .unwrap_or_else(|| &routes["$default"])
}

#[test]
fn the_http_api_has_exactly_the_routes_of_the_code() {
    // One function per path, so `ANY <path>` has one target.
    for r in ROUTES.iter() {
        for other in ROUTES.iter().filter(|o| o.path == r.path) {
            assert_eq!(
                r.function, other.function,
                "{} is served by two functions",
                r.path
            );
        }
    }
    let in_template = template_routes(&template());
    // The template declares exactly what the code's declaration says API Gateway needs: the
    // routes of the webhook, checkout, validate and docs functions with `ANY` on their paths,
    // the pages' greedy routes, and `$default` for the admin function (none of its routes is
    // declared needlessly).
    let in_code: BTreeMap<String, String> = gateway_routes()
        .into_iter()
        .map(|(key, function)| (key, function.name().to_string()))
        .collect();
    let missing: Vec<_> = in_code
        .iter()
        .filter(|(k, f)| in_template.get(*k) != Some(f))
        .collect();
    let extra: Vec<_> = in_template
        .iter()
        .filter(|(k, f)| in_code.get(*k) != Some(f))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the template's routes differ from gateway_routes() (shared/src/app/operations.rs)\n  \
         in the code, not in the template (route, function): {missing:?}\n  \
         in the template, not in the code: {extra:?}"
    );
    assert!(
        !ROUTES.iter().any(|r| r.function == Function::Admin
            && in_template.contains_key(&format!("{} {}", r.method, r.path))),
        "an admin route is declared needlessly: `$default` serves them"
    );
    // Every route of the code, its HEAD and its preflight reach the function serving it.
    // (A path parameter stands as a value: a greedy route's rest is never empty.)
    for r in ROUTES.iter() {
        let path = r
            .path
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let mut methods = vec![r.method.as_str()];
        if r.method == http::Method::GET {
            methods.push("HEAD");
        }
        if r.cross_origin {
            methods.push("OPTIONS");
        }
        for method in methods {
            assert_eq!(
                gateway_pick(&in_template, method, &path),
                r.function.name(),
                "{method} {} reaches the {} function",
                r.path,
                r.function.name()
            );
        }
    }
}

#[test]
fn every_function_is_an_arm64_cargo_lambda_build_of_a_workspace_binary() {
    let t = template();
    let globals = &t["Globals"]["Function"];
    assert_eq!(globals["Runtime"], "provided.al2023");
    assert_eq!(globals["Handler"], "bootstrap");
    assert_eq!(globals["Architectures"], json!(["arm64"]));
    let fns = functions(&t);
    let names: BTreeSet<&str> = fns.keys().map(String::as_str).collect();
    let mut expected: BTreeSet<&str> = [
        Function::Webhook,
        Function::Checkout,
        Function::Validate,
        Function::Admin,
        Function::Docs,
        Function::Pages,
    ]
    .iter()
    .map(|f| f.name())
    .collect();
    expected.extend(["mailer", "deliveries", "reconcile"]);
    assert_eq!(names, expected, "one template function per Lambda crate");
    for (name, (id, f)) in &fns {
        assert_eq!(f["Metadata"]["BuildMethod"], "rust-cargolambda", "{id}");
        let manifest = std::fs::read_to_string(repo_file(&format!("functions/{name}/Cargo.toml")))
            .unwrap_or_else(|_| panic!("{id}: functions/{name} exists"));
        assert!(
            manifest.contains(&format!("name = \"keyhook-{name}\"")),
            "{id}: functions/{name} builds the binary keyhook-{name}"
        );
        let props = &f["Properties"];
        for field in ["MemorySize", "Timeout", "Role"] {
            assert!(!props[field].is_null(), "{id} sets {field}");
        }
        // The functions behind API Gateway (the others are fed by queues, streams, schedules).
        if !["mailer", "deliveries", "reconcile"].contains(&name.as_str()) {
            let timeout = props["Timeout"].as_u64().unwrap();
            assert!(
                timeout < 30,
                "{id}: under API Gateway's 30 s integration limit"
            );
        }
    }
}

#[test]
fn every_setting_of_config_rs_comes_from_the_template() {
    let t = template();
    let source = std::fs::read_to_string(repo_file("shared/src/config.rs")).unwrap();
    let read: BTreeSet<String> = source
        .split('"')
        .filter(|s| {
            s.starts_with("KEYHOOK_") && s.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        })
        .map(str::to_string)
        .collect();
    assert!(
        read.len() >= 8,
        "found the variables of config.rs: {read:?}"
    );
    let env = t["Globals"]["Function"]["Environment"]["Variables"]
        .as_object()
        .unwrap();
    let set: BTreeSet<String> = env
        .keys()
        .filter(|k| k.starts_with("KEYHOOK_"))
        .cloned()
        .collect();
    // Read only to be refused: a deployment that sets it does not start (`keyhook dev` sets
    // the setting itself), so the template must never carry it.
    let refused = "KEYHOOK_ALLOW_LOOPBACK_WEBHOOKS";
    assert!(read.contains(refused) && !set.contains(refused));
    let read: BTreeSet<String> = read.into_iter().filter(|v| v != refused).collect();
    assert_eq!(set, read, "template variables = variables config.rs reads");
    assert_eq!(
        env["KEYHOOK_MAIL_MAX_RECEIVES"],
        MAIL_MAX_RECEIVE_COUNT.to_string(),
        "the mailer gives up exactly when the queue redrives"
    );
    assert_eq!(env["KEYHOOK_TABLE"], json!({"Ref": "Table"}));
    assert_eq!(
        env["KEYHOOK_KMS_KEY_ID"],
        json!({"Fn::GetAtt": ["Key", "Arn"]})
    );
    assert_eq!(env["KEYHOOK_MAIL_QUEUE_URL"], json!({"Ref": "MailQueue"}));
    assert_eq!(
        env["KEYHOOK_DELIVERY_QUEUE_URL"],
        json!({"Ref": "DeliveryQueue"})
    );
    assert_eq!(env["KEYHOOK_MAIL_FROM"], json!({"Ref": "SenderAddress"}));
    assert_eq!(
        env["KEYHOOK_STRIPE_SOURCE_IPS"], "stripe",
        "deployed, the shared webhook URLs answer only Stripe's webhook addresses"
    );
    // The base URL is built from the API's id; the API must not depend on the functions.
    let base = env["KEYHOOK_PUBLIC_BASE_URL"].to_string();
    assert!(base.contains("${HttpApi}.execute-api"), "{base}");
    let api = resource(&t, "HttpApi");
    assert_eq!(api["Type"], "AWS::ApiGatewayV2::Api");
    assert!(
        api["Properties"]["Body"].is_null() && api["Properties"]["Target"].is_null(),
        "HttpApi has no body or quick-create target, so it depends on no function (no cycle)"
    );
}

#[test]
fn the_table_is_the_one_keyhook_provision_creates() {
    let t = template();
    let table = resource(&t, "Table");
    assert_eq!(table["Type"], "AWS::DynamoDB::Table");
    assert_eq!(table["DeletionPolicy"], "Retain");
    let p = &table["Properties"];
    // provision.rs creates it with BillingMode::PayPerRequest.
    assert_eq!(p["BillingMode"], "PAY_PER_REQUEST");
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(
        p["DeletionProtectionEnabled"],
        json!({"Ref": "TableDeletionProtection"})
    );

    let key_type = |k: &KeyType| match k {
        KeyType::Hash => "HASH",
        KeyType::Range => "RANGE",
        other => panic!("unexpected key type {other:?}"),
    };
    let (schema, attrs, gsis) = table_definition();
    let schema: Vec<Value> = schema
        .iter()
        .map(|k| json!({"AttributeName": k.attribute_name(), "KeyType": key_type(k.key_type())}))
        .collect();
    assert_eq!(p["KeySchema"], json!(schema), "key schema");

    let attrs: BTreeSet<(String, String)> = attrs
        .iter()
        .map(|a| {
            (
                a.attribute_name().to_string(),
                a.attribute_type().as_str().to_string(),
            )
        })
        .collect();
    let template_attrs: BTreeSet<(String, String)> = p["AttributeDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["AttributeName"].as_str().unwrap().to_string(),
                a["AttributeType"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(template_attrs, attrs, "attribute definitions");

    let gsis: Vec<Value> = gsis
        .iter()
        .map(|g| {
            let projection = g.projection().and_then(|p| p.projection_type()).map(|p| {
                assert_eq!(*p, ProjectionType::All);
                "ALL"
            });
            json!({
                "IndexName": g.index_name(),
                "KeySchema": g.key_schema().iter()
                    .map(|k| json!({"AttributeName": k.attribute_name(), "KeyType": key_type(k.key_type())}))
                    .collect::<Vec<_>>(),
                "Projection": {"ProjectionType": projection},
            })
        })
        .collect();
    assert_eq!(p["GlobalSecondaryIndexes"], json!(gsis), "indexes");
    // provision.rs enables the same time-to-live attribute (dashboard links and sessions).
    assert_eq!(
        p["TimeToLiveSpecification"],
        json!({"AttributeName": keyhook_shared::store::table_keys::TTL, "Enabled": true})
    );
    assert_eq!(
        p["StreamSpecification"]["StreamViewType"],
        STREAM_VIEW.as_str(),
        "the stream outgoing webhooks are derived from, as provision.rs enables it"
    );
}

#[test]
fn outgoing_webhooks_have_their_stream_queue_dlq_and_schedules() {
    let t = template();
    let queue = &resource(&t, "DeliveryQueue")["Properties"];
    assert_eq!(
        queue["VisibilityTimeout"],
        json!(DELIVERY_VISIBILITY_TIMEOUT)
    );
    assert_eq!(
        queue["RedrivePolicy"]["maxReceiveCount"],
        json!(DELIVERY_MAX_RECEIVE_COUNT)
    );
    assert_eq!(
        queue["RedrivePolicy"]["deadLetterTargetArn"],
        json!({"Fn::GetAtt": ["DeliveryDeadLetterQueue", "Arn"]})
    );
    let dlq = &resource(&t, "DeliveryDeadLetterQueue")["Properties"];
    assert_eq!(dlq["MessageRetentionPeriod"], json!(1_209_600));
    for q in [queue, dlq] {
        assert_eq!(q["SqsManagedSseEnabled"], true, "queues are encrypted");
    }

    let fns = functions(&t);
    let (_, deliveries) = &fns["deliveries"];
    let events = deliveries["Properties"]["Events"].as_object().unwrap();
    let of_type = |kind: &str| {
        events
            .values()
            .find(|e| e["Type"] == kind)
            .unwrap_or_else(|| panic!("the deliveries function has a {kind} event"))
    };
    let stream = &of_type("DynamoDB")["Properties"];
    assert_eq!(
        stream["Stream"],
        json!({"Fn::GetAtt": ["Table", "StreamArn"]})
    );
    assert_eq!(
        stream["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    // A record is retried within the budget the local stream worker keeps, then its position
    // goes to the DLQ; a crash or timeout splits the batch to isolate the record.
    assert_eq!(stream["BisectBatchOnFunctionError"], true);
    assert_eq!(stream["MaximumRetryAttempts"], json!(MAX_RETRY_ATTEMPTS));
    assert_eq!(
        stream["MaximumRecordAgeInSeconds"],
        json!(MAX_RECORD_AGE.as_secs())
    );
    assert_eq!(
        stream["DestinationConfig"]["OnFailure"],
        json!({
            "Type": "SQS",
            "Destination": {"Fn::GetAtt": ["DeliveryDeadLetterQueue", "Arn"]}
        })
    );
    // The filters let through exactly the items events are derived from.
    let filters = stream["FilterCriteria"]["Filters"].to_string();
    for prefix in ["LICENSE#", "DEVICE#", "EVENT#", "PURCHASE#", "SUB#"] {
        assert!(
            filters.contains(prefix),
            "the stream filter passes {prefix}"
        );
    }
    let sqs = &of_type("SQS")["Properties"];
    assert_eq!(
        sqs["Queue"],
        json!({"Fn::GetAtt": ["DeliveryQueue", "Arn"]})
    );
    assert_eq!(
        sqs["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    let sweep = &of_type("Schedule")["Properties"];
    let input: Value = serde_json::from_str(sweep["Input"].as_str().unwrap()).unwrap();
    assert_eq!(
        input["task"], "sweep",
        "what handle_lambda_event dispatches on"
    );
    let timeout = deliveries["Properties"]["Timeout"].as_u64().unwrap();
    assert!(u64::from(DELIVERY_VISIBILITY_TIMEOUT) >= 6 * timeout);

    let (_, reconcile) = &fns["reconcile"];
    assert!(reconcile["Properties"]["Events"]
        .as_object()
        .unwrap()
        .values()
        .any(|e| e["Type"] == "Schedule"));
    assert_eq!(reconcile["Properties"]["ReservedConcurrentExecutions"], 1);
}

#[test]
fn the_key_and_queues_are_the_ones_keyhook_provision_creates() {
    let t = template();
    let key = resource(&t, "Key");
    assert_eq!(key["Type"], "AWS::KMS::Key");
    assert_eq!(key["Properties"]["EnableKeyRotation"], true);
    assert_eq!(key["DeletionPolicy"], "Retain");

    let queue = &resource(&t, "MailQueue")["Properties"];
    assert_eq!(
        queue["VisibilityTimeout"],
        json!(MAIL_VISIBILITY_TIMEOUT),
        "visibility timeout = MAIL_VISIBILITY_TIMEOUT"
    );
    assert_eq!(
        queue["RedrivePolicy"]["maxReceiveCount"],
        json!(MAIL_MAX_RECEIVE_COUNT),
        "maxReceiveCount = MAIL_MAX_RECEIVE_COUNT"
    );
    assert_eq!(
        queue["RedrivePolicy"]["deadLetterTargetArn"],
        json!({"Fn::GetAtt": ["MailDeadLetterQueue", "Arn"]})
    );
    let dlq = &resource(&t, "MailDeadLetterQueue")["Properties"];
    // provision.rs keeps dead letters 14 days (1209600 s).
    assert_eq!(dlq["MessageRetentionPeriod"], json!(1_209_600));
    for q in [queue, dlq] {
        assert!(
            q["SqsManagedSseEnabled"] == true || !q["KmsMasterKeyId"].is_null(),
            "queues are encrypted"
        );
    }

    // The mailer consumes the queue with partial batch responses, and finishes well within
    // the visibility timeout (AWS: at least 6x the function timeout).
    let (_, mailer) = functions(&t).remove("mailer").unwrap();
    let event = mailer["Properties"]["Events"]
        .as_object()
        .unwrap()
        .values()
        .find(|e| e["Type"] == "SQS")
        .expect("the mailer has an SQS event source");
    assert_eq!(
        event["Properties"]["Queue"],
        json!({"Fn::GetAtt": ["MailQueue", "Arn"]})
    );
    assert_eq!(
        event["Properties"]["FunctionResponseTypes"],
        json!(["ReportBatchItemFailures"])
    );
    let timeout = mailer["Properties"]["Timeout"].as_u64().unwrap();
    assert!(
        u64::from(MAIL_VISIBILITY_TIMEOUT) >= 6 * timeout,
        "visibility {MAIL_VISIBILITY_TIMEOUT} s >= 6 x mailer timeout {timeout} s"
    );
}

/// What each function may do: docs/deploy.md's table. Changing a role means changing this too.
fn expected_actions(function: &str) -> BTreeSet<&'static str> {
    let logs = ["logs:CreateLogStream", "logs:PutLogEvents"];
    let extra: &[&str] = match function {
        "webhook" => &[
            "dynamodb:GetItem",
            // a subscription's or a refunded purchase's licenses
            "dynamodb:BatchGetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:Query",
            "kms:Decrypt",
            "sqs:SendMessage",
        ],
        "checkout" => &[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:Query",
            "kms:Decrypt",
        ],
        "validate" => &[
            "dynamodb:GetItem",
            // a trial reads the product and the device record together
            "dynamodb:BatchGetItem",
            // activations, deactivations and trials are conditional updates; nothing is put
            "dynamodb:UpdateItem",
            "kms:Decrypt",
        ],
        // The admin API; the pages call the same operations, so they may do what it does.
        "admin" | "pages" => &[
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
            "dynamodb:Query",
            "kms:Decrypt",
            "kms:GenerateDataKey",
            "sqs:SendMessage",
        ],
        "mailer" => &[
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            // a sign-in request's one-time link (SIGNIN# only)
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            // the accounts of a sign-in request's address (gsi2)
            "dynamodb:Query",
            "kms:Decrypt",
            "ses:SendEmail",
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
        ],
        "deliveries" => &[
            "dynamodb:GetItem",
            // a new-key renewal's licenses
            "dynamodb:BatchGetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:Query",
            // the table's stream, read by Lambda's event source on the function's behalf
            "dynamodb:DescribeStream",
            "dynamodb:GetRecords",
            "dynamodb:GetShardIterator",
            "dynamodb:ListStreams",
            "kms:Decrypt",
            "sqs:SendMessage",
            "sqs:ReceiveMessage",
            "sqs:DeleteMessage",
            "sqs:ChangeMessageVisibility",
            "sqs:GetQueueAttributes",
        ],
        // The API reference: a page and its renderer, compiled in; nothing in AWS but its logs.
        "docs" => &[],
        // The webhook's processing, reached through Stripe's event list.
        "reconcile" => &[
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:Query",
            "kms:Decrypt",
            "sqs:SendMessage",
        ],
        other => panic!("unknown function {other}"),
    };
    logs.iter().chain(extra).copied().collect()
}

fn as_list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    }
}

#[test]
fn each_function_may_do_only_what_it_uses() {
    let t = template();
    for (name, (id, f)) in functions(&t) {
        let props = &f["Properties"];
        assert!(
            props["Policies"].is_null(),
            "{id}: permissions live in its own role, not SAM policy templates"
        );
        let role_id = getatt_target(&props["Role"])
            .unwrap_or_else(|| panic!("{id}: Role is !GetAtt <Role>.Arn"));
        let role = resource(&t, role_id);
        assert_eq!(role["Type"], "AWS::IAM::Role");
        assert!(
            role["Properties"]["ManagedPolicyArns"].is_null(),
            "{role_id}: no managed policies (they grant Resource: *)"
        );
        let mut actions = BTreeSet::new();
        for policy in role["Properties"]["Policies"].as_array().unwrap() {
            for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                assert_eq!(statement["Effect"], "Allow");
                for action in as_list(&statement["Action"]) {
                    let action = action.as_str().unwrap();
                    assert!(!action.contains('*'), "{role_id}: wildcard action {action}");
                    actions.insert(action.to_string());
                }
                for r in as_list(&statement["Resource"]) {
                    assert_ne!(r, "*", "{role_id}: Resource \"*\"");
                    // Every resource is one of this stack's, or (SES) identities of this
                    // account pinned by a condition on the From address.
                    let text = r.to_string();
                    if text.contains(":identity/*") {
                        assert_eq!(
                            statement["Condition"]["StringEquals"]["ses:FromAddress"],
                            json!({"Ref": "SenderAddress"}),
                            "{role_id}: SES sends only as the sender"
                        );
                    } else {
                        assert!(
                            r.get("Fn::GetAtt").is_some() || text.contains("${Table.Arn}"),
                            "{role_id}: resource {text} is a resource of the stack"
                        );
                    }
                }
                if as_list(&statement["Action"])
                    .iter()
                    .any(|a| a.as_str().unwrap().starts_with("kms:"))
                {
                    assert_eq!(
                        statement["Resource"],
                        json!({"Fn::GetAtt": ["Key", "Arn"]}),
                        "{role_id}: KMS on Keyhook's key only"
                    );
                }
            }
        }
        let expected: BTreeSet<String> = expected_actions(&name)
            .into_iter()
            .map(str::to_string)
            .collect();
        assert_eq!(actions, expected, "{role_id}: the actions of {name}");
    }
    // The public function in particular cannot make or replace secrets.
    let validate = expected_actions("validate");
    for forbidden in [
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "dynamodb:DeleteItem",
        "dynamodb:PutItem",
        "dynamodb:Scan",
        "sqs:SendMessage",
    ] {
        assert!(!validate.contains(forbidden), "validate has {forbidden}");
    }
}

/// The partition-key prefixes each function reads and writes in the table (docs/deploy.md):
/// `(function, reads, writes)`. Changing a role's `dynamodb:LeadingKeys` means changing this.
const LEADING_KEYS: &[(&str, &[&str], &[&str])] = &[
    (
        "webhook",
        &["APP#*", "PRODUCT#*", "LICENSE#*", "TENANT#*"],
        // APP#*: an app's `lastVerifiedEventAt` only (`dynamodb:Attributes`).
        &["TENANT#*", "LICENSE#*", "APP#*"],
    ),
    (
        "checkout",
        &["TOKEN#*", "APP#*", "PRODUCT#*", "TENANT#*"],
        &["TENANT#*"],
    ),
    (
        "validate",
        &["LICENSE#*", "PRODUCT#*", "DEVICE#*", "TENANT#*"],
        &["LICENSE#*", "DEVICE#*"],
    ),
    (
        "admin",
        &[
            "TENANT#*",
            "TOKEN#*",
            "APP#*",
            "PRODUCT#*",
            "LICENSE#*",
            "DEVICE#*",
            "COUNTER",
            "RATE#*",
        ],
        &[
            "TENANT#*",
            "TOKEN#*",
            "APP#*",
            "PRODUCT#*",
            "LICENSE#*",
            "DEVICE#*",
            "COUNTER",
            "RATE#*",
        ],
    ),
    // The admin API's partitions, and the pages' own: sessions, sign-in links, address changes.
    (
        "pages",
        &[
            "TENANT#*",
            "TOKEN#*",
            "APP#*",
            "PRODUCT#*",
            "LICENSE#*",
            "DEVICE#*",
            "COUNTER",
            "SESSION#*",
            "PSESSION#*",
            "SIGNIN#*",
            "RATE#*",
            "CONTACT#*",
        ],
        &[
            "TENANT#*",
            "TOKEN#*",
            "APP#*",
            "PRODUCT#*",
            "LICENSE#*",
            "DEVICE#*",
            "COUNTER",
            "SESSION#*",
            "PSESSION#*",
            "SIGNIN#*",
            "RATE#*",
            "CONTACT#*",
        ],
    ),
    ("docs", &[], &[]),
    (
        "mailer",
        &[
            "TENANT#*",
            "LICENSE#*",
            "PRODUCT#*",
            "SIGNIN#*",
            "CONTACT#*",
        ],
        &["TENANT#*", "LICENSE#*", "SIGNIN#*", "CONTACT#*"],
    ),
    (
        "deliveries",
        &["TENANT#*", "LICENSE#*", "TIMER#*", "SWEEP"],
        &["TENANT#*", "TIMER#*", "SWEEP"],
    ),
    (
        "reconcile",
        &["APP#*", "PRODUCT#*", "LICENSE#*", "TENANT#*"],
        // APP#*: an app's check with Stripe only (`dynamodb:Attributes`).
        &["TENANT#*", "LICENSE#*", "APP#*"],
    ),
];

/// Partitions of the secondary indexes only (never a table partition key, so no
/// `dynamodb:LeadingKeys` names them): the webhook-matching index and an email's tenants.
const INDEX_PARTITIONS: &[&str] = &["WEBHOOK#*", "MEMBER#*"];

fn is_write(action: &str) -> bool {
    matches!(
        action,
        "dynamodb:PutItem"
            | "dynamodb:UpdateItem"
            | "dynamodb:DeleteItem"
            | "dynamodb:BatchWriteItem"
    )
}

#[test]
fn each_function_touches_only_the_partitions_it_uses() {
    let t = template();
    for (name, (id, f)) in functions(&t) {
        let role = resource(&t, getatt_target(&f["Properties"]["Role"]).unwrap());
        let (_, reads, writes) = LEADING_KEYS
            .iter()
            .find(|(n, _, _)| *n == name)
            .unwrap_or_else(|| panic!("{id}: no expected leading keys"));
        let mut granted_reads = BTreeSet::new();
        let mut granted_writes = BTreeSet::new();
        for policy in role["Properties"]["Policies"].as_array().unwrap() {
            for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                if statement["Resource"] != json!({"Fn::GetAtt": ["Table", "Arn"]}) {
                    continue;
                }
                // Every statement on the table's items names the partitions it may touch.
                let keys: BTreeSet<&str> = as_list(
                    &statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"],
                )
                .iter()
                .filter_map(|v| v.as_str())
                .collect();
                assert!(
                    !keys.is_empty(),
                    "{id}: {} has no dynamodb:LeadingKeys condition",
                    statement["Sid"]
                );
                for action in as_list(&statement["Action"]) {
                    let action = action.as_str().unwrap();
                    let granted = if is_write(action) {
                        &mut granted_writes
                    } else {
                        &mut granted_reads
                    };
                    granted.extend(keys.iter().copied());
                }
            }
        }
        let reads: BTreeSet<&str> = reads.iter().copied().collect();
        let writes: BTreeSet<&str> = writes.iter().copied().collect();
        assert_eq!(granted_reads, reads, "{id}: partitions read");
        assert_eq!(granted_writes, writes, "{id}: partitions written");
    }

    // Every partition the code builds is granted to some function (a new kind of record
    // needs its role updated, or it fails in AWS though the emulator, which ignores IAM,
    // lets it pass).
    let keys_rs = std::fs::read_to_string(repo_file("shared/src/store/table_keys.rs")).unwrap();
    let mut built: BTreeSet<String> = BTreeSet::new();
    // A partition key is the first element of a key tuple: `(format!("KIND#…"), …)`, or
    // `tenant_partition`'s `TENANT#`, or a fixed `("COUNTER".into(), …)`.
    for (i, _) in keys_rs.match_indices("format!(\"") {
        let before = keys_rs[..i].trim_end();
        let rest = &keys_rs[i + "format!(\"".len()..];
        let kind = rest.split('#').next().unwrap_or_default();
        let is_kind = !kind.is_empty() && kind.chars().all(|c| c.is_ascii_uppercase());
        // The first element of a key tuple, or the whole body of a `fn …_partition`.
        if is_kind && (before.ends_with('(') || before.ends_with('{')) {
            built.insert(format!("{kind}#*"));
        }
    }
    for index_partition in INDEX_PARTITIONS {
        built.remove(*index_partition);
    }
    // Fixed partitions: `("NAME".into(), …)`.
    for (i, _) in keys_rs.match_indices("(\"") {
        let rest = &keys_rs[i + 2..];
        if let Some((name, tail)) = rest.split_once('"') {
            if tail.starts_with(".into()")
                && !name.is_empty()
                && name.chars().all(|c| c.is_ascii_uppercase())
            {
                built.insert(name.to_string());
            }
        }
    }
    if keys_rs.contains("pub fn tenant_partition") {
        built.insert("TENANT#*".into());
    }
    assert!(built.len() >= 7, "partitions found in keys.rs: {built:?}");
    let granted: BTreeSet<String> = LEADING_KEYS
        .iter()
        .flat_map(|(_, r, w)| r.iter().chain(w.iter()))
        .map(|k| k.to_string())
        .collect();
    for prefix in &built {
        assert!(
            granted.contains(prefix),
            "partition {prefix} (keys.rs) is granted to no function"
        );
    }
    // And the functions' partitions are the ones the code builds.
    for prefix in &granted {
        assert!(
            built.contains(prefix),
            "{prefix} is not a partition keys.rs builds"
        );
    }
}

#[test]
fn public_routes_are_throttled_and_the_urls_are_outputs() {
    let t = template();
    let stage = resource(&t, "ApiStage");
    assert_eq!(stage["Properties"]["StageName"], "$default");
    let settings = stage["Properties"]["RouteSettings"].as_object().unwrap();
    let routes: BTreeSet<String> = resources_of_type(&t, "AWS::ApiGatewayV2::Route")
        .into_iter()
        .map(|(_, r)| r["Properties"]["RouteKey"].as_str().unwrap().to_string())
        .collect();
    for key in [
        "POST /api/licenses/validate",
        "POST /api/licenses/activate",
        "POST /api/licenses/deactivate",
        "POST /api/licenses/checkout",
        "GET /api/tenants/{tenantId}/signing-keys",
    ] {
        let s = &settings[key];
        assert!(
            !s["ThrottlingRateLimit"].is_null() && !s["ThrottlingBurstLimit"].is_null(),
            "{key} is throttled"
        );
    }
    for key in settings.keys() {
        assert!(
            routes.contains(key),
            "route setting for a missing route {key}"
        );
    }
    // Route settings need their routes to exist first.
    let depends: BTreeSet<String> = stage["DependsOn"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            resource(&t, d.as_str().unwrap())["Properties"]["RouteKey"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        depends,
        settings.keys().cloned().collect(),
        "the stage depends on its throttled routes"
    );
    assert!(!stage["Properties"]["DefaultRouteSettings"]["ThrottlingRateLimit"].is_null());

    let outputs = t["Outputs"].as_object().unwrap();
    assert!(outputs["ApiBaseUrl"]["Value"]
        .to_string()
        .contains("execute-api"));
    assert!(outputs["StripeWebhookUrl"]["Value"]
        .to_string()
        .contains("/api/stripe/webhook"));
}

#[test]
fn the_alarms_worth_having_exist() {
    let t = template();
    let alarms = resources_of_type(&t, "AWS::CloudWatch::Alarm");
    let dimension_targets = |a: &Value| -> Vec<String> {
        a["Properties"]["Dimensions"]
            .as_array()
            .map(|d| d.iter().map(|d| d["Value"].to_string()).collect())
            .unwrap_or_default()
    };
    assert!(
        alarms
            .iter()
            .any(|(_, a)| a["Properties"]["Namespace"] == "AWS/SQS"
                && dimension_targets(a)
                    .iter()
                    .any(|d| d.contains("MailDeadLetterQueue"))),
        "an alarm on the DLQ"
    );
    for (_, (id, _)) in functions(&t) {
        assert!(
            alarms
                .iter()
                .any(|(_, a)| a["Properties"]["MetricName"] == "Errors"
                    && dimension_targets(a).iter().any(|d| d.contains(id.as_str()))),
            "an Errors alarm for {id}"
        );
    }
    let rate = resource(&t, "Webhook5xxRateAlarm");
    assert!(rate["Properties"]["Metrics"]
        .to_string()
        .contains("Webhook5xx"));
    for filter in ["Webhook5xxMetric", "WebhookRequestsMetric"] {
        let pattern = resource(&t, filter)["Properties"]["FilterPattern"].to_string();
        assert!(pattern.contains("POST /api/stripe/webhook"), "{pattern}");
    }
    // The filters read the access log's fields; the format must have them.
    let format = resource(&t, "ApiStage")["Properties"]["AccessLogSettings"]["Format"]
        .as_str()
        .unwrap()
        .to_string();
    let line: Value = serde_json::from_str(
        &format
            .replace("$context.status", "503")
            .replace("$context.responseLatency", "12"),
    )
    .expect("the access log format is JSON");
    assert_eq!(line["routeKey"], "$context.routeKey");
    // `$default` for every admin request: the line says which one.
    assert_eq!(
        (&line["method"], &line["path"]),
        (&json!("$context.httpMethod"), &json!("$context.path"))
    );
    assert_eq!(line["status"], 503, "status is a number (>= 500 compares)");
}

#[test]
fn samconfig_deploys_with_working_defaults() {
    let t = template();
    let text = std::fs::read_to_string(repo_file("samconfig.toml")).expect("samconfig.toml");
    for needle in [
        "[default.deploy.parameters]",
        "stack_name = ",
        "region = ",
        "capabilities = \"CAPABILITY_IAM\"",
        "resolve_s3 = true",
        "template_file = \"infra/template.yaml\"",
    ] {
        assert!(text.contains(needle), "samconfig.toml has {needle}");
    }
    let params = t["Parameters"].as_object().unwrap();
    let overrides: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("parameter_overrides = "))
        .collect();
    assert!(!overrides.is_empty());
    for line in overrides {
        for name in ["SenderAddress", "Environment"] {
            assert!(line.contains(&format!("{name}=")), "{line} sets {name}");
        }
        for pair in line.trim_matches('"').split(' ') {
            let name = pair.split('=').next().unwrap();
            assert!(
                params.contains_key(name),
                "override of unknown parameter {name}"
            );
        }
    }
    // Required parameters (no default) are all overridden.
    for (name, p) in params {
        if p["Default"].is_null() {
            assert!(text.contains(&format!("{name}=")), "{name} has no default");
        }
    }
}

#[test]
fn the_validation_routes_can_skip_api_gateway_through_a_function_url() {
    let t = template();
    let param = &t["Parameters"]["ValidationEndpoint"];
    assert_eq!(param["AllowedValues"], json!(["HttpApi", "FunctionUrl"]));
    assert_eq!(
        param["Default"], "HttpApi",
        "the HTTP API stays the default"
    );
    assert_eq!(
        t["Conditions"]["ValidationViaFunctionUrl"],
        json!({"Fn::Equals": [{"Ref": "ValidationEndpoint"}, "FunctionUrl"]})
    );
    let fns = functions(&t);
    let (validate_id, _) = fns["validate"];

    // Exactly one Function URL, on the validate function, public, only under the parameter.
    let urls = resources_of_type(&t, "AWS::Lambda::Url");
    assert_eq!(urls.len(), 1, "one Function URL: {urls:?}");
    let (url_id, url) = urls[0];
    assert_eq!(url["Condition"], "ValidationViaFunctionUrl");
    assert_eq!(
        getatt_target(&url["Properties"]["TargetFunctionArn"]),
        Some(validate_id.as_str()),
        "the URL targets the validate function (it serves only the validation routes)"
    );
    assert_eq!(url["Properties"]["AuthType"], "NONE");
    for (name, (id, f)) in &fns {
        if name != "validate" {
            assert!(
                f["Properties"]["FunctionUrlConfig"].is_null(),
                "{id}: no Function URL outside validation"
            );
        }
    }

    // The two grants AuthType NONE needs, the only public ones: both only under the
    // parameter, both on validate, and InvokeFunction only through the URL.
    let permissions: Vec<&Value> = resources_of_type(&t, "AWS::Lambda::Permission")
        .into_iter()
        .map(|(_, p)| p)
        .filter(|p| p["Properties"]["Principal"] == "*")
        .collect();
    assert_eq!(permissions.len(), 2, "{permissions:?}");
    for p in &permissions {
        assert_eq!(p["Properties"]["FunctionName"], json!({"Ref": validate_id}));
    }
    let by_action = |action: &str| {
        let found: Vec<&&Value> = permissions
            .iter()
            .filter(|p| p["Properties"]["Action"] == action)
            .collect();
        assert_eq!(found.len(), 1, "one {action} grant on {validate_id}");
        let p = *found[0];
        assert_eq!(p["Condition"], "ValidationViaFunctionUrl", "{action}");
        p
    };
    assert_eq!(
        by_action("lambda:InvokeFunctionUrl")["Properties"]["FunctionUrlAuthType"],
        "NONE"
    );
    assert_eq!(
        by_action("lambda:InvokeFunction")["Properties"]["InvokedViaFunctionUrl"],
        true,
        "anyone may invoke only through the URL"
    );

    // The validation base URL: the Function URL's host under the parameter, else the API's.
    let output = &t["Outputs"]["ValidationBaseUrl"]["Value"]["Fn::If"];
    assert_eq!(output[0], "ValidationViaFunctionUrl");
    assert!(
        output[1]
            .to_string()
            .contains(&format!("\"{url_id}\",\"FunctionUrl\"")),
        "{}",
        output[1]
    );
    assert!(
        output[2].to_string().contains("execute-api"),
        "{}",
        output[2]
    );

    // The HTTP API keeps serving the validation routes (and throttling them) either way.
    let routes: BTreeSet<String> = resources_of_type(&t, "AWS::ApiGatewayV2::Route")
        .into_iter()
        .filter(|(_, r)| r["Condition"].is_null())
        .map(|(_, r)| r["Properties"]["RouteKey"].as_str().unwrap().to_string())
        .collect();
    for r in ROUTES.iter().filter(|r| r.function == Function::Validate) {
        assert!(
            routes.contains(&format!("{} {}", r.method, r.path)),
            "{} {} stays on the HTTP API",
            r.method,
            r.path
        );
    }

    // Without route throttling on the Function URL, the function's reserved concurrency is the
    // outer guard: a parameter (0 = none) that sets it only when given.
    let reserved = &t["Parameters"]["ValidateReservedConcurrency"];
    assert_eq!(reserved["Default"], 0);
    assert_eq!(
        t["Conditions"]["HasValidateReservedConcurrency"],
        json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "ValidateReservedConcurrency"}, 0]}]})
    );
    let (_, validate) = fns["validate"];
    assert_eq!(
        validate["Properties"]["ReservedConcurrentExecutions"],
        json!({"Fn::If": ["HasValidateReservedConcurrency", {"Ref": "ValidateReservedConcurrency"}, {"Ref": "AWS::NoValue"}]})
    );
}
