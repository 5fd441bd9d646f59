//! Validation tests for Fargate, network modes, port mappings and links.

use serde_json::json;

use super::support::*;
use super::{ec2_basic, fargate_web};
use crate::task_definition::*;

#[test]
fn fargate_network_and_size() {
    client(
        fargate_web(),
        |i| i.network_mode = None,
        &["Fargate only supports network mode ‘awsvpc’."],
    );
    client(
        fargate_web(),
        |i| i.cpu = None,
        &["Fargate requires that 'cpu' be defined at the task level."],
    );
    client(
        fargate_web(),
        |i| i.memory = None,
        &["Fargate requires that 'memory' be defined at the task level."],
    );
    client(
        fargate_web(),
        |i| i.memory = Some("512".into()),
        &[
            "No Fargate configuration exists for given values: 512 CPU, 512 memory.",
            "1024, 2048, 3072, 4096",
        ],
    );
    client(
        fargate_web(),
        |i| i.cpu = Some("384".into()),
        &["No Fargate configuration exists", "Fargate cpu values are"],
    );
    client(
        fargate_web(),
        |i| {
            i.runtime_platform = Some(RuntimePlatform {
                cpu_architecture: None,
                operating_system_family: Some("WINDOWS_SERVER_2022_CORE".into()),
            });
        },
        &["at least 1 vCPU"],
    );
    passes(fargate_web(), |i| {
        i.cpu = Some("16 vCPU".into());
        i.memory = Some("120 GB".into());
    });
}

#[test]
fn fargate_unsupported_features() {
    client(
        fargate_web(),
        |i| web(i).privileged = Some(true),
        &["Container 'web': privileged is not supported on Fargate."],
    );
    client(
        fargate_web(),
        |i| {
            i.volumes[0] =
                serde_json::from_value(json!({"name": "assets", "host": {"sourcePath": "/data"}}))
                    .expect("volume")
        },
        &["Volume 'assets': host.sourcePath is not supported"],
    );
    passes(fargate_web(), |i| {
        i.volumes[0] =
            serde_json::from_value(json!({"name": "assets", "host": {}})).expect("volume")
    });
    client(
        fargate_web(),
        |i| {
            i.volumes[0] = serde_json::from_value(
                json!({"name": "assets", "dockerVolumeConfiguration": {"scope": "task"}}),
            )
            .expect("volume")
        },
        &["Docker volumes"],
    );
    client(
        fargate_web(),
        |i| {
            i.placement_constraints = vec![TaskDefinitionPlacementConstraint {
                kind: Some("memberOf".into()),
                expression: Some("attribute:x == y".into()),
            }]
        },
        &["placement constraints aren't supported"],
    );
    client(
        fargate_web(),
        |i| i.pid_mode = Some("host".into()),
        &["pidMode 'host'"],
    );
    client(
        fargate_web(),
        |i| i.ipc_mode = Some("task".into()),
        &["ipcMode"],
    );
    client(
        fargate_web(),
        |i| web(i).stop_timeout = Some(121),
        &["stopTimeout 121", "2-120 seconds"],
    );
    client(
        fargate_web(),
        |i| web(i).docker_security_options = vec!["no-new-privileges".into()],
        &["dockerSecurityOptions"],
    );
    client(
        fargate_web(),
        |i| {
            web(i).linux_parameters = Some(LinuxParameters {
                capabilities: Some(KernelCapabilities {
                    add: vec!["NET_ADMIN".into()],
                    drop: vec![],
                }),
                ..LinuxParameters::default()
            })
        },
        &["capability 'NET_ADMIN'", "SYS_PTRACE"],
    );
    client(
        fargate_web(),
        |i| {
            web(i).linux_parameters = Some(LinuxParameters {
                shared_memory_size: Some(64),
                ..LinuxParameters::default()
            })
        },
        &["sharedMemorySize"],
    );
}

#[test]
fn fargate_logging_and_roles() {
    client(fargate_web(), |i| web(i).log_configuration = Some(LogConfiguration { log_driver: "json-file".into(), ..LogConfiguration::default() }),
        &["json-file is not a valid log driver for Fargate. Must be one of [awslogs,splunk,awsfirelens]"]);
    client(fargate_web(), |i| { i.execution_role_arn = None; web(i).image = Some("nginx".into()); i.container_definitions[1].image = Some("busybox".into()); },
        &["Fargate requires task definition to have execution role ARN to support log driver awslogs", "'web'"]);
    client(
        fargate_web(),
        |i| i.execution_role_arn = None,
        &["execution role ARN to support ECR images"],
    );
    client(
        fargate_web(),
        |i| {
            if let Some(o) = web(i)
                .log_configuration
                .as_mut()
                .and_then(|l| l.options.as_mut())
            {
                o.remove("awslogs-stream-prefix");
            }
        },
        &["awslogs-stream-prefix"],
    );
}

#[test]
fn network_mode_rules() {
    client(
        ec2_basic(),
        |i| {
            i.network_mode = Some("awsvpc".into());
            web(i).links = vec!["db".into()];
        },
        &["Links are not supported when networkMode=awsvpc", "'web'"],
    );
    client(
        ec2_basic(),
        |i| {
            i.network_mode = Some("awsvpc".into());
            web(i).hostname = Some("h".into());
        },
        &["hostname is not supported on container when networkMode=awsvpc"],
    );
    client(
        ec2_basic(),
        |i| {
            i.network_mode = Some("awsvpc".into());
            web(i).extra_hosts = vec![HostEntry {
                hostname: "a".into(),
                ip_address: "10.0.0.1".into(),
            }];
        },
        &["extraHosts"],
    );
    client(
        ec2_basic(),
        |i| i.network_mode = Some("none".into()),
        &["Port mappings are not supported when networkMode=none"],
    );
    client(
        ec2_basic(),
        |i| {
            i.network_mode = Some("awsvpc".into());
            i.requires_compatibilities = vec!["EXTERNAL".into()];
        },
        &["EXTERNAL", "awsvpc"],
    );
}

#[test]
fn port_ranges_and_protocols() {
    client(
        ec2_basic(),
        |i| web(i).port_mappings = ports(json!([{"containerPort": 0}])),
        &[
            "Invalid 'containerPort' setting for container 'web'",
            "portMappings[0].containerPort",
            "0 was given",
        ],
    );
    client(
        ec2_basic(),
        |i| web(i).port_mappings = ports(json!([{"containerPort": 70000}])),
        &["between 1 and 65535"],
    );
    client(
        ec2_basic(),
        |i| web(i).port_mappings = ports(json!([{"hostPort": 80}])),
        &["Invalid 'containerPort'"],
    );
    client(
        ec2_basic(),
        |i| web(i).port_mappings = ports(json!([{"containerPort": 80, "hostPort": -1}])),
        &["Invalid 'hostPort'"],
    );
    invalid(
        ec2_basic(),
        |i| web(i).port_mappings = ports(json!([{"containerPort": 80, "protocol": "sctp"}])),
        &["portMappings[0].protocol", "'sctp'", "tcp, udp"],
    );
    passes(ec2_basic(), |i| {
        web(i).port_mappings =
            ports(json!([{"containerPort": 53, "protocol": "udp"}, {"containerPort": 53}]))
    });
}

#[test]
fn static_network_modes_need_matching_host_ports() {
    for mode in ["awsvpc", "host"] {
        client(ec2_basic(), |i| { i.network_mode = Some(mode.into()); web(i).port_mappings = ports(json!([{"containerPort": 80, "hostPort": 8080}])); },
            &[&format!("When networkMode={mode}, the host ports and container ports in port mappings must match."), "set it to 80"]);
        passes(ec2_basic(), |i| {
            i.network_mode = Some(mode.into());
            web(i).port_mappings = ports(
                json!([{"containerPort": 80, "hostPort": 80}, {"containerPort": 81, "hostPort": 0}]),
            );
        });
    }
}

#[test]
fn duplicate_ports() {
    client(
        ec2_basic(),
        |i| {
            web(i).port_mappings =
                ports(json!([{"containerPort": 80}, {"containerPort": 80, "hostPort": 8080}]))
        },
        &["Container 'web': portMappings[1].containerPort 80/tcp is mapped twice"],
    );
    client(
        ec2_basic(),
        |i| {
            web(i).port_mappings = ports(json!([{"containerPort": 80, "hostPort": 8080}]));
            i.container_definitions.push(container(
                json!({"name": "b", "image": "busybox", "memory": 8,
            "portMappings": [{"containerPort": 81, "hostPort": 8080}]}),
            ));
        },
        &[
            "Host port 8080/tcp is bound twice",
            "container 'web' portMappings[0]",
            "container 'b' portMappings[0]",
        ],
    );
    client(
        ec2_basic(),
        |i| {
            i.network_mode = Some("awsvpc".into());
            i.container_definitions.push(container(json!({"name": "b", "image": "busybox", "memory": 8, "portMappings": [{"containerPort": 80}]})));
        },
        &["Host port 80/tcp is bound twice"],
    );
    passes(ec2_basic(), |i| {
        i.container_definitions.push(container(json!({"name": "b", "image": "busybox", "memory": 8, "portMappings": [{"containerPort": 80}]})));
    });
}

#[test]
fn port_names_and_app_protocols() {
    client(
        ec2_basic(),
        |i| web(i).port_mappings = ports(json!([{"containerPort": 80, "name": "-http"}])),
        &["portMappings[0].name '-http' is invalid"],
    );
    client(
        ec2_basic(),
        |i| web(i).port_mappings = ports(json!([{"containerPort": 80, "appProtocol": "http"}])),
        &["appProtocol requires a port mapping name"],
    );
    invalid(
        ec2_basic(),
        |i| {
            web(i).port_mappings =
                ports(json!([{"containerPort": 80, "name": "h", "appProtocol": "ftp"}]))
        },
        &["appProtocol"],
    );
    client(
        ec2_basic(),
        |i| {
            web(i).port_mappings = ports(json!([{"containerPort": 80, "name": "http"}]));
            i.container_definitions.push(container(json!({"name": "b", "image": "busybox", "memory": 8, "portMappings": [{"containerPort": 81, "name": "http"}]})));
        },
        &["Port mapping name 'http' is used twice"],
    );
}

#[test]
fn container_port_ranges() {
    passes(ec2_basic(), |i| {
        web(i).port_mappings =
            ports(json!([{"containerPortRange": "8000-8010"}, {"containerPort": 80}]))
    });
    client(
        ec2_basic(),
        |i| web(i).port_mappings = ports(json!([{"containerPortRange": "9-3"}])),
        &["containerPortRange '9-3' is invalid"],
    );
    client(
        ec2_basic(),
        |i| {
            web(i).port_mappings =
                ports(json!([{"containerPortRange": "8000-8010"}, {"containerPort": 8005}]))
        },
        &["portMappings[1].containerPort 8005/tcp is mapped twice"],
    );
    client(
        ec2_basic(),
        |i| {
            web(i).port_mappings =
                ports(json!([{"containerPortRange": "8000-8010", "hostPort": 8000}]))
        },
        &["leave hostPort out"],
    );
    client(
        ec2_basic(),
        |i| {
            i.network_mode = Some("host".into());
            web(i).port_mappings = ports(json!([{"containerPortRange": "8000-8010"}]));
        },
        &["containerPortRange requires networkMode bridge or awsvpc"],
    );
}

#[test]
fn links_must_name_other_containers() {
    client(
        ec2_basic(),
        |i| web(i).links = vec!["db:database".into()],
        &["link 'db:database' must name another container"],
    );
    client(
        ec2_basic(),
        |i| web(i).links = vec!["db:bad alias".into()],
        &["invalid link"],
    );
}
