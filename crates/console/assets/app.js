// Flotilla's console: a page per resource, built from the public APIs through
// /console/api/{service}/{operation} (signed server-side with the signed-in key, so the
// console can do exactly what that key may). The page refreshes every 2 s while it is
// shown, so a deployment moves on screen. No framework, no network access but this
// server.
"use strict";

const REFRESH_MS = 2000;
const session = { csrf: null, arn: null };
let timer = null;
let rendering = false;

// --- DOM helpers -------------------------------------------------------------------------
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "width") el.style.width = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}
const svg = (tag, attrs) => {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
  return el;
};
const list = (v) => (Array.isArray(v) ? v : v && typeof v === "object" ? [v] : []);
const last = (arn) => String(arn || "").split("/").pop();
// A target group's name: `...:targetgroup/NAME/ID`.
const groupName = (arn) => String(arn || "").split("/").slice(-2)[0];
const revision = (arn) => String(arn || "").split(":task-definition/").pop();
const link = (href, text) => h("a", { href }, text);
const enc = encodeURIComponent;

const STATUS = {
  green: ["RUNNING", "ACTIVE", "HEALTHY", "COMPLETED", "PRIMARY", "healthy", "connected", "INSYNC"],
  yellow: ["PROVISIONING", "PENDING", "ACTIVATING", "DEACTIVATING", "STOPPING", "DEPROVISIONING",
    "IN_PROGRESS", "DRAINING", "initial", "draining", "unused", "PENDING_DELETION"],
  red: ["STOPPED", "FAILED", "UNHEALTHY", "INACTIVE", "unhealthy", "disconnected"],
};
function status(word) {
  const w = String(word ?? "-");
  for (const [c, words] of Object.entries(STATUS)) if (words.includes(w)) return h("span", { class: `s-${c}` }, w);
  return h("span", {}, w);
}
function table(headers, rows, empty) {
  if (!rows.length) return h("p", { class: "empty" }, empty || "None.");
  return h("table", {}, h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))),
    h("tbody", {}, rows.map((r) => (r instanceof Node ? r : h("tr", {}, r.map((c) => h("td", {}, c)))))));
}
function bar(done, total) {
  const pct = total > 0 ? Math.min(100, Math.round((100 * done) / total)) : 100;
  return h("span", {}, h("span", { class: "bar" }, h("span", { width: `${pct}%` })), `${done}/${total}`);
}
function when(epoch) {
  if (epoch === undefined || epoch === null || epoch === "") return "-";
  const ms = typeof epoch === "number" ? epoch * 1000 : Date.parse(epoch);
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19);
}
function age(epoch) {
  if (typeof epoch !== "number") return "-";
  const s = Math.max(0, Math.floor(Date.now() / 1000 - epoch));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.floor(s / 60)}m` : s < 172800 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 86400)}d`;
}
function crumbs(...parts) {
  return h("p", { class: "crumbs" }, parts.flatMap((p, i) => [i ? " / " : "", p]));
}

// --- calls -------------------------------------------------------------------------------
class SignedOut extends Error {}

async function api(service, operation, input) {
  const r = await fetch(`/console/api/${service}/${operation}`, {
    method: "POST", credentials: "same-origin",
    headers: { "content-type": "application/json", "x-flotilla-csrf": session.csrf || "" },
    body: JSON.stringify(input || {}),
  });
  const body = await r.json().catch(() => ({}));
  if (r.status === 401) {
    showSignIn(body.error ? body.error.message : "Sign in again.");
    throw new SignedOut();
  }
  if (!r.ok) {
    const e = body.error || {};
    throw new Error(`${e.code || r.status}: ${e.message || ""}`);
  }
  return body;
}

async function pages(service, operation, input, key) {
  const out = [];
  let token;
  for (let i = 0; i < 50; i++) {
    const page = await api(service, operation, token ? { ...input, nextToken: token } : input);
    out.push(...list(page[key]));
    token = page.nextToken;
    if (!token) break;
  }
  return out;
}

async function describeInChunks(service, operation, input, field, arns, size, key) {
  const out = [];
  for (let i = 0; i < arns.length; i += size) {
    const page = await api(service, operation, { ...input, [field]: arns.slice(i, i + size) });
    out.push(...list(page[key]));
  }
  return out;
}

const ecs = (op, input) => api("ecs", op, input);
async function services(cluster) {
  const arns = await pages("ecs", "ListServices", { cluster }, "serviceArns");
  return describeInChunks("ecs", "DescribeServices", { cluster }, "services", arns, 10, "services");
}
async function tasks(cluster, serviceName, desiredStatus) {
  const arns = await pages("ecs", "ListTasks", { cluster, serviceName, desiredStatus }, "taskArns");
  return describeInChunks("ecs", "DescribeTasks", { cluster }, "tasks", arns, 100, "tasks");
}
async function instances(cluster) {
  const arns = await pages("ecs", "ListContainerInstances", { cluster }, "containerInstanceArns");
  return describeInChunks("ecs", "DescribeContainerInstances", { cluster }, "containerInstances", arns, 100, "containerInstances");
}
const resource = (list_, name) => (list(list_).find((r) => r.name === name) || {}).integerValue ?? 0;

// --- pages -------------------------------------------------------------------------------
async function clustersPage() {
  const arns = await pages("ecs", "ListClusters", {}, "clusterArns");
  const described = await describeInChunks("ecs", "DescribeClusters", {}, "clusters", arns, 100, "clusters");
  return h("div", { "data-page": "clusters" }, h("h1", {}, "Clusters"),
    table(["Cluster", "Status", "Services", "Running", "Pending", "Instances"],
      list(described).map((c) => [link(`#/cluster/${enc(c.clusterName)}`, c.clusterName), status(c.status),
        c.activeServicesCount, c.runningTasksCount, c.pendingTasksCount, c.registeredContainerInstancesCount]),
      "No clusters."));
}

function taskRow(cluster, t) {
  const ports = list(t.containers).flatMap((c) => list(c.networkBindings).map((b) => `${b.hostPort}->${b.containerPort}`));
  return [link(`#/task/${enc(cluster)}/${last(t.taskArn)}`, last(t.taskArn)), revision(t.taskDefinitionArn),
    status(t.lastStatus), status(t.healthStatus || "UNKNOWN"), ports.join(", ") || "-", age(t.startedAt ?? t.createdAt),
    t.stoppedReason || ""];
}

async function clusterPage(cluster) {
  const [svcs, insts, running] = await Promise.all([services(cluster), instances(cluster), tasks(cluster, undefined, "RUNNING")]);
  return h("div", { "data-page": "cluster" }, crumbs(link("#/", "Clusters"), cluster), h("h1", {}, `Cluster ${cluster}`),
    h("h2", {}, "Services"),
    table(["Service", "Task definition", "Desired", "Running", "Pending", "Rollout"],
      svcs.map((s) => {
        const p = list(s.deployments).find((d) => d.status === "PRIMARY") || {};
        return [link(`#/service/${enc(cluster)}/${enc(s.serviceName)}`, s.serviceName), revision(s.taskDefinition),
          s.desiredCount, s.runningCount, s.pendingCount, status(p.rolloutState)];
      }), "No services."),
    h("h2", {}, "Instances"),
    table(["Instance", "Host", "Status", "Agent", "Tasks", "CPU free", "Memory free (MiB)"],
      insts.map((i) => [last(i.containerInstanceArn), i.ec2InstanceId, status(i.status),
        status(i.agentConnected ? "connected" : "disconnected"), i.runningTasksCount,
        bar(resource(i.remainingResources, "CPU"), resource(i.registeredResources, "CPU")),
        bar(resource(i.remainingResources, "MEMORY"), resource(i.registeredResources, "MEMORY"))]), "No instances."),
    h("h2", {}, "Tasks"),
    table(["Task", "Revision", "Status", "Health", "Ports", "Age", ""], running.map((t) => taskRow(cluster, t)), "No tasks."));
}

async function chart(title, query) {
  const end = Math.floor(Date.now() / 1000);
  let points = [];
  try {
    const out = await api("cloudwatch", "GetMetricData", {
      MetricDataQueries: [{ Id: "m", MetricStat: query, ReturnData: true }],
      StartTime: end - 1800, EndTime: end,
    });
    const r = list(out.MetricDataResults)[0] || {};
    points = list(r.Timestamps).map((t, i) => [typeof t === "number" ? t : Date.parse(t) / 1000, r.Values[i]]);
    points.sort((a, b) => a[0] - b[0]);
  } catch (e) {
    if (e instanceof SignedOut) throw e;
  }
  const W = 320, H = 110, pad = 24;
  const box = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img" });
  const max = Math.max(1, ...points.map((p) => p[1]));
  box.append(svg("line", { x1: pad, y1: H - pad, x2: W - 4, y2: H - pad }));
  const label = svg("text", { x: 2, y: 12 });
  label.textContent = max.toFixed(max < 10 ? 1 : 0);
  box.append(label);
  if (points.length) {
    const x = (t) => pad + ((t - (end - 1800)) / 1800) * (W - pad - 4);
    const y = (v) => H - pad - (v / max) * (H - pad - 8);
    box.append(svg("polyline", { points: points.map((p) => `${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(" ") }));
    for (const p of points) box.append(svg("circle", { cx: x(p[0]).toFixed(1), cy: y(p[1]).toFixed(1), r: 2 }));
  }
  const foot = svg("text", { x: pad, y: H - 6 });
  foot.textContent = points.length ? "last 30 minutes" : "no data in the last 30 minutes";
  box.append(foot);
  return h("div", { class: "chart" }, h("div", { class: "title" }, title), box);
}

// What the last action on a service page said; kept across the page's refreshes.
const notice = { key: null, text: "" };

function serviceActions(cluster, s) {
  const input = h("input", { type: "number", min: 0, value: s.desiredCount, id: "desired-count", "aria-label": "desired count" });
  const key = `${cluster}/${s.serviceName}`;
  const shown = h("span", { id: "notice" }, notice.key === key ? notice.text : "");
  const say = (t) => {
    Object.assign(notice, { key, text: t });
    shown.textContent = t;
  };
  const act = async (what, change) => {
    say(`${what}...`);
    try {
      await ecs("UpdateService", { cluster, service: s.serviceName, ...change });
      say(`${what}: done.`);
    } catch (e) {
      if (!(e instanceof SignedOut)) say(`${what} failed: ${e.message}`);
    }
    refresh();
  };
  return h("div", { class: "actions" }, "Desired tasks", input,
    h("button", { id: "scale", onclick: () => act("Scaling", { desiredCount: Number(input.value) }) }, "Scale"),
    h("button", { id: "force-deployment", onclick: () => act("Starting a new deployment", { forceNewDeployment: true }) }, "Force new deployment"),
    shown);
}

async function servicePage(cluster, name) {
  const out = await ecs("DescribeServices", { cluster, services: [name] });
  const s = list(out.services)[0];
  if (!s) return h("div", {}, crumbs(link("#/", "Clusters"), link(`#/cluster/${enc(cluster)}`, cluster)), h("p", { class: "error" }, `No service ${name}.`));
  const breaker = (s.deploymentConfiguration || {}).deploymentCircuitBreaker || {};
  const svcTasks = await tasks(cluster, name, "RUNNING");
  const dims = [{ Name: "ClusterName", Value: cluster }, { Name: "ServiceName", Value: name }];
  const metric = (m) => ({ Metric: { Namespace: "AWS/ECS", MetricName: m, Dimensions: dims }, Period: 60, Stat: "Average" });
  const charts = await Promise.all([chart("CPU utilization (%)", metric("CPUUtilization")), chart("Memory utilization (%)", metric("MemoryUtilization"))]);
  return h("div", { "data-page": "service" },
    crumbs(link("#/", "Clusters"), link(`#/cluster/${enc(cluster)}`, cluster), name),
    h("h1", {}, `Service ${name} `, status(s.status)),
    h("dl", { class: "kv" }, h("dt", {}, "Task definition"), h("dd", {}, revision(s.taskDefinition)),
      h("dt", {}, "Tasks"), h("dd", {}, `${s.runningCount} running, ${s.pendingCount} pending, ${s.desiredCount} desired`),
      h("dt", {}, "Circuit breaker"), h("dd", {}, breaker.enable ? `on${breaker.rollback ? ", rolls back" : ""}` : "off"),
      h("dt", {}, "Load balancers"), h("dd", {}, list(s.loadBalancers).map((l) => `${groupName(l.targetGroupArn)} → ${l.containerName}:${l.containerPort}`).join(", ") || "none")),
    serviceActions(cluster, s),
    h("h2", {}, "Deployments"),
    table(["Deployment", "Status", "Task definition", "Running / desired", "Pending", "Failed", "Rollout", "Reason"],
      list(s.deployments).map((d) => h("tr", { class: "deployment", "data-rollout": d.rolloutState, "data-task-definition": revision(d.taskDefinition) },
        [d.id, status(d.status), revision(d.taskDefinition), bar(d.runningCount, d.desiredCount), d.pendingCount, d.failedTasks,
          status(d.rolloutState), d.rolloutStateReason || ""].map((c) => h("td", {}, c))))),
    h("h2", {}, "Tasks"),
    table(["Task", "Revision", "Status", "Health", "Ports", "Age", ""], svcTasks.map((t) => taskRow(cluster, t)), "No running tasks."),
    h("h2", {}, "Metrics"), h("div", { class: "charts" }, charts),
    h("h2", {}, "Events"),
    h("div", { class: "events", id: "events" }, list(s.events).slice(0, 100).map((e) => h("div", {}, `${when(e.createdAt)}  ${e.message}`))));
}

async function taskPage(cluster, id) {
  const out = await ecs("DescribeTasks", { cluster, tasks: [id] });
  const t = list(out.tasks)[0];
  if (!t) return h("div", {}, h("p", { class: "error" }, `No task ${id} in ${cluster}.`));
  const def = (await ecs("DescribeTaskDefinition", { taskDefinition: t.taskDefinitionArn })).taskDefinition || {};
  const logLinks = list(def.containerDefinitions).filter((c) => (c.logConfiguration || {}).logDriver === "awslogs").map((c) => {
    const o = c.logConfiguration.options || {};
    // ECS's stream names: PREFIX/CONTAINER/TASK_ID, or the container's runtime id.
    const prefix = o["awslogs-stream-prefix"];
    const runtime = (list(t.containers).find((x) => x.name === c.name) || {}).runtimeId || "";
    const stream = prefix ? `${prefix}/${c.name}/${id}` : runtime;
    return link(`#/logs/${enc(o["awslogs-group"])}/${enc(stream)}`, `${c.name} logs`);
  });
  const service = String(t.group || "").startsWith("service:") ? t.group.slice(8) : null;
  return h("div", { "data-page": "task" },
    crumbs(link("#/", "Clusters"), link(`#/cluster/${enc(cluster)}`, cluster),
      service ? link(`#/service/${enc(cluster)}/${enc(service)}`, service) : "tasks", id),
    h("h1", {}, `Task ${id} `, status(t.lastStatus)),
    h("dl", { class: "kv" }, h("dt", {}, "Task definition"), h("dd", {}, revision(t.taskDefinitionArn)),
      h("dt", {}, "Desired status"), h("dd", {}, t.desiredStatus), h("dt", {}, "Health"), h("dd", {}, status(t.healthStatus || "UNKNOWN")),
      h("dt", {}, "Started"), h("dd", {}, when(t.startedAt)), h("dt", {}, "Stopped reason"), h("dd", {}, t.stoppedReason || "-"),
      h("dt", {}, "Stop code"), h("dd", {}, t.stopCode || "-"), h("dt", {}, "Logs"), h("dd", {}, logLinks.length ? logLinks : "no awslogs container")),
    h("h2", {}, "Containers"),
    table(["Container", "Image", "Status", "Health", "Exit code", "Reason", "Ports"],
      list(t.containers).map((c) => [c.name, c.image, status(c.lastStatus), status(c.healthStatus || "UNKNOWN"), c.exitCode ?? "-",
        c.reason || "", list(c.networkBindings).map((b) => `${b.bindIP}:${b.hostPort}->${b.containerPort}/${b.protocol}`).join(", ") || "-"])));
}

async function loadBalancersPage() {
  const out = await api("elbv2", "DescribeLoadBalancers", {});
  return h("div", { "data-page": "load-balancers" }, h("h1", {}, "Load balancers"),
    table(["Name", "State", "DNS name", "Scheme", "Created"],
      list(out.LoadBalancers).map((lb) => [link(`#/lb/${enc(lb.LoadBalancerArn)}`, lb.LoadBalancerName), status((lb.State || {}).Code),
        lb.DNSName, lb.Scheme, when(lb.CreatedTime)]), "No load balancers."));
}

async function loadBalancerPage(arn) {
  const [lbs, listeners, groups] = await Promise.all([
    api("elbv2", "DescribeLoadBalancers", { LoadBalancerArns: [arn] }),
    api("elbv2", "DescribeListeners", { LoadBalancerArn: arn }),
    api("elbv2", "DescribeTargetGroups", { LoadBalancerArn: arn }),
  ]);
  const lb = list(lbs.LoadBalancers)[0] || {};
  const rules = await Promise.all(list(listeners.Listeners).map((l) => api("elbv2", "DescribeRules", { ListenerArn: l.ListenerArn })));
  const health = await Promise.all(list(groups.TargetGroups).map((g) => api("elbv2", "DescribeTargetHealth", { TargetGroupArn: g.TargetGroupArn })));
  const action = (a) => a.Type === "forward" ? `forward to ${list((a.ForwardConfig || {}).TargetGroups).map((g) => `${groupName(g.TargetGroupArn)} (${g.Weight})`).join(", ") || groupName(a.TargetGroupArn)}` : a.Type;
  const suffix = String(arn).split(":loadbalancer/").pop();
  const requests = await chart("Requests per minute", { Metric: { Namespace: "AWS/ApplicationELB", MetricName: "RequestCount",
    Dimensions: [{ Name: "LoadBalancer", Value: suffix }] }, Period: 60, Stat: "Sum" });
  return h("div", { "data-page": "load-balancer" }, crumbs(link("#/load-balancers", "Load balancers"), lb.LoadBalancerName),
    h("h1", {}, `Load balancer ${lb.LoadBalancerName || ""} `, status((lb.State || {}).Code)),
    h("dl", { class: "kv" }, h("dt", {}, "DNS name"), h("dd", {}, lb.DNSName || "-"),
      h("dt", {}, "Addresses"), h("dd", {}, list(lb.AvailabilityZones).flatMap((z) => list(z.LoadBalancerAddresses).map((a) => a.IpAddress)).join(", ") || "-")),
    h("h2", {}, "Listeners and rules"),
    table(["Listener", "Priority", "Conditions", "Action"],
      list(listeners.Listeners).flatMap((l, i) => list(rules[i].Rules).map((r) => [`${l.Protocol}:${l.Port}`, r.Priority,
        list(r.Conditions).map((c) => `${c.Field} ${list(c.Values).join(",")}`).join("; ") || "default", list(r.Actions).map(action).join("; ")])),
      "No listeners."),
    h("h2", {}, "Target groups"),
    list(groups.TargetGroups).map((g, i) => h("div", { class: "target-group" }, h("h3", {}, `${g.TargetGroupName} (${g.Protocol}:${g.Port})`),
      table(["Target", "Port", "State", "Reason"], list(health[i].TargetHealthDescriptions).map((d) => [d.Target.Id, d.Target.Port,
        status(d.TargetHealth.State), d.TargetHealth.Reason || ""]), "No targets."))),
    h("h2", {}, "Metrics"), h("div", { class: "charts" }, requests));
}

async function zonesPage() {
  const out = await api("route53", "ListHostedZones", {});
  return h("div", { "data-page": "zones" }, h("h1", {}, "Hosted zones"),
    table(["Name", "Id", "Records", "Private"], list(out.HostedZones).map((z) => [link(`#/zone/${last(z.Id)}`, z.Name), last(z.Id),
      z.ResourceRecordSetCount, (z.Config || {}).PrivateZone || "false"]), "No hosted zones."));
}

async function zonePage(id) {
  const [zone, records] = await Promise.all([api("route53", "GetHostedZone", { Id: id }), api("route53", "ListResourceRecordSets", { HostedZoneId: id })]);
  const z = zone.HostedZone || {};
  return h("div", { "data-page": "zone" }, crumbs(link("#/zones", "Hosted zones"), z.Name || id), h("h1", {}, `Zone ${z.Name || id}`),
    table(["Name", "Type", "TTL", "Value", "Routing"], list(records.ResourceRecordSets).map((r) => [r.Name, r.Type, r.TTL || "-",
      r.AliasTarget ? `alias ${r.AliasTarget.DNSName}` : list(r.ResourceRecords).map((x) => x.Value).join(", "),
      r.Weight ? `weight ${r.Weight} (${r.SetIdentifier})` : r.SetIdentifier || ""])));
}

async function repositoriesPage() {
  const out = await pages("ecr", "DescribeRepositories", {}, "repositories");
  return h("div", { "data-page": "repositories" }, h("h1", {}, "Repositories"),
    table(["Name", "URI", "Created"], out.map((r) => [link(`#/repository/${enc(r.repositoryName)}`, r.repositoryName), r.repositoryUri, when(r.createdAt)]),
      "No repositories."));
}

async function repositoryPage(name) {
  const images = await pages("ecr", "DescribeImages", { repositoryName: name }, "imageDetails");
  images.sort((a, b) => (b.imagePushedAt || 0) - (a.imagePushedAt || 0));
  return h("div", { "data-page": "repository" }, crumbs(link("#/repositories", "Repositories"), name), h("h1", {}, `Repository ${name}`),
    table(["Tags", "Digest", "Size (bytes)", "Pushed"], images.map((i) => [list(i.imageTags).join(", ") || "untagged",
      String(i.imageDigest).slice(0, 19), i.imageSizeInBytes, when(i.imagePushedAt)]), "No images."));
}

async function logGroupsPage() {
  const groups = await pages("logs", "DescribeLogGroups", {}, "logGroups");
  return h("div", { "data-page": "log-groups" }, h("h1", {}, "Log groups"),
    table(["Group", "Stored bytes", "Retention (days)"], groups.map((g) => [link(`#/logs/${enc(g.logGroupName)}`, g.logGroupName), g.storedBytes,
      g.retentionInDays || "never expire"]), "No log groups."));
}

// The live tail keeps what it has read between refreshes.
const tail = { key: null, lines: [], seen: new Set(), start: 0 };

async function logsPage(group, stream) {
  const key = `${group}\n${stream || ""}`;
  if (tail.key !== key) Object.assign(tail, { key, lines: [], seen: new Set(), start: Date.now() - 3600 * 1000 });
  const input = { logGroupName: group, startTime: tail.start, limit: 1000 };
  if (stream) input.logStreamNames = [stream];
  const events = await pages("logs", "FilterLogEvents", input, "events");
  for (const e of events) {
    if (tail.seen.has(e.eventId)) continue;
    tail.seen.add(e.eventId);
    tail.lines.push(e);
    tail.start = Math.max(tail.start, e.timestamp);
  }
  tail.lines.sort((a, b) => a.timestamp - b.timestamp);
  if (tail.lines.length > 1000) tail.lines.splice(0, tail.lines.length - 1000);
  const box = h("div", { class: "logs", id: "log-lines" }, tail.lines.map((e) => h("div", { class: "log-line" },
    h("span", { class: "ts" }, `${when(e.timestamp / 1000)} `), stream ? "" : h("span", { class: "src" }, `${e.logStreamName} `), e.message)));
  return h("div", { "data-page": "logs" }, crumbs(link("#/logs", "Log groups"), group, stream || "all streams"),
    h("h1", {}, `Logs of ${stream || group}`), h("p", { class: "crumbs" }, "Live: new lines appear as they are written."), box);
}

const ROUTES = [
  [/^$/, clustersPage],
  [/^cluster\/([^/]+)$/, clusterPage],
  [/^service\/([^/]+)\/([^/]+)$/, servicePage],
  [/^task\/([^/]+)\/([^/]+)$/, taskPage],
  [/^load-balancers$/, loadBalancersPage],
  [/^lb\/(.+)$/, loadBalancerPage],
  [/^zones$/, zonesPage],
  [/^zone\/([^/]+)$/, zonePage],
  [/^repositories$/, repositoriesPage],
  [/^repository\/(.+)$/, repositoryPage],
  [/^logs$/, logGroupsPage],
  [/^logs\/([^/]+)(?:\/(.+))?$/, logsPage],
];

async function render() {
  if (rendering || !session.csrf) return;
  const active = document.activeElement;
  if (active && active.tagName === "INPUT" && document.getElementById("main").contains(active)) return;
  rendering = true;
  const path = location.hash.replace(/^#\/?/, "");
  const main = document.getElementById("main");
  try {
    const [re, page] = ROUTES.find(([r]) => r.test(path)) || [null, null];
    const node = page ? await page(...path.match(re).slice(1).filter((x) => x !== undefined).map(decodeURIComponent))
      : h("p", { class: "error" }, "No such page.");
    const scroll = document.getElementById("log-lines");
    const atEnd = !scroll || scroll.scrollTop + scroll.clientHeight >= scroll.scrollHeight - 4;
    main.replaceChildren(node);
    const box = document.getElementById("log-lines");
    if (box && atEnd) box.scrollTop = box.scrollHeight;
  } catch (e) {
    if (!(e instanceof SignedOut)) main.replaceChildren(h("p", { class: "error", id: "page-error" }, e.message));
  } finally {
    rendering = false;
  }
}

function refresh() {
  clearTimeout(timer);
  render().finally(() => { timer = setTimeout(refresh, REFRESH_MS); });
}

// --- signing in --------------------------------------------------------------------------
function showSignIn(message) {
  session.csrf = null;
  clearTimeout(timer);
  document.getElementById("main").hidden = true;
  document.getElementById("nav").hidden = true;
  document.getElementById("sign-out").hidden = true;
  document.getElementById("who").textContent = "";
  document.getElementById("sign-in").hidden = false;
  document.getElementById("sign-in-error").textContent = message || "";
}

function signedIn(s) {
  session.csrf = s.csrf;
  session.arn = s.arn;
  document.getElementById("sign-in").hidden = true;
  document.getElementById("main").hidden = false;
  document.getElementById("nav").hidden = false;
  document.getElementById("sign-out").hidden = false;
  document.getElementById("who").textContent = s.arn;
  refresh();
}

async function start() {
  document.getElementById("sign-in-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = document.getElementById("sign-in-button");
    button.disabled = true;
    try {
      const r = await fetch("/console/session", {
        method: "POST", credentials: "same-origin", headers: { "content-type": "application/json" },
        body: JSON.stringify({ accessKeyId: document.getElementById("access-key-id").value,
          secretAccessKey: document.getElementById("secret-access-key").value }),
      });
      const body = await r.json().catch(() => ({}));
      if (r.ok) {
        document.getElementById("secret-access-key").value = "";
        signedIn(body);
      } else {
        document.getElementById("sign-in-error").textContent = (body.error || {}).message || `Sign-in failed (${r.status}).`;
      }
    } finally {
      button.disabled = false;
    }
  });
  document.getElementById("sign-out").addEventListener("click", async () => {
    await fetch("/console/session", { method: "DELETE", credentials: "same-origin", headers: { "x-flotilla-csrf": session.csrf || "" } });
    showSignIn("Signed out.");
  });
  window.addEventListener("hashchange", refresh);
  const r = await fetch("/console/session", { credentials: "same-origin" });
  const body = await r.json().catch(() => ({}));
  if (r.ok) signedIn(body);
  else showSignIn(body.error && body.error.code === "SessionExpired" ? body.error.message : "");
}

start();
