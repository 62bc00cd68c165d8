"""What Airflow's providers manager reads through the ``apache_airflow_provider`` entry point.

The connection form is declared here (``conn-fields`` and ``ui-field-behaviour``, Airflow 3.2+), so the UI shows it
without importing the hook. ``package-name`` must equal the distribution's name.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CONN_TYPE", "get_provider_info"]

CONN_TYPE = "scp_dataops"
_HOOK = "aiodataops.airflow.DataOpsHook"


def _text(label: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"label": label, "description": description, "schema": {"type": ["string", "null"], **schema}}


def get_provider_info() -> dict[str, Any]:
    """The provider's description, connection type and form, as the providers manager expects them."""
    return {
        "package-name": "aiodataops",
        "name": "Samsung Cloud Platform Data Ops",
        "description": "Change SCP Data Ops services (managed Airflow) from DAGs: deferrable updates and fleet "
        "rollouts with the aiodataops asyncio SDK.",
        "integrations": [
            {
                "integration-name": "SCP Data Ops",
                "external-doc-url": "https://www.samsungsdscloud.com",
                "tags": ["service"],
            }
        ],
        "operators": [
            {
                "integration-name": "SCP Data Ops",
                "python-modules": ["aiodataops.airflow._service_operator", "aiodataops.airflow._fleet_operator"],
            }
        ],
        "hooks": [{"integration-name": "SCP Data Ops", "python-modules": ["aiodataops.airflow._hook"]}],
        "triggers": [{"integration-name": "SCP Data Ops", "python-modules": ["aiodataops.airflow._trigger"]}],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": _HOOK,
                "hook-name": "SCP Data Ops",
                "conn-fields": {
                    "region": _text("Region", "With env, instead of the endpoint: e.g. kr-west1"),
                    "env": _text("Environment", "With region: s, g or e", enum=["s", "g", "e", None]),
                    "auth_token": _text("Auth token", "Only with temporary credentials", format="password"),
                    "ca_bundle": _text("CA bundle", "Path of a PEM file of CAs to trust instead of the system's"),
                    "accept_language": _text("Language", "Of the API's messages", enum=["en-US", "ko-KR", None]),
                    "allow_insecure_http": {
                        "label": "Allow plain http",
                        "description": "To a non-loopback host (a trusted network only)",
                        "schema": {"type": ["boolean", "null"], "default": False},
                    },
                    "proxy": _text(
                        "Proxy", "http://[user:password@]host:port; empty: the worker's HTTPS_PROXY/NO_PROXY"
                    ),
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "extra"],
                    "relabeling": {"login": "Access key", "password": "Secret key", "host": "Endpoint"},
                    "placeholders": {
                        "host": "https://data-ops.kr-west1.e.samsungsdscloud.com (or leave empty: region and env)",
                        "login": "the access key of an SCP key pair",
                    },
                },
            }
        ],
        "hook-class-names": [_HOOK],
    }
