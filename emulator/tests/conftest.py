"""Fixtures: one emulator subprocess per session, state reset before each test."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

EMULATOR_DIR = Path(__file__).resolve().parents[1]


def start_emulator(*extra: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(EMULATOR_DIR) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.Popen(
        [sys.executable, "-m", "commandbridge_emulator", "--host", "127.0.0.1", "--port", "0", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on http://127.0.0.1:"):
        proc.kill()
        raise RuntimeError(f"unexpected first line {line!r}: {proc.stderr.read()}")
    return proc, line[len("listening on "):]


class Emulator:
    def __init__(self, url: str):
        self.url = url

    def control(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + "/_emulator" + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        status, payload = self.control(method, path, body)
        assert status == 200, (status, payload)
        return payload

    def client(self, service: str, region: str = "eu-west-2"):
        return boto3.client(
            service,
            region_name=region,
            endpoint_url=self.url,
            aws_access_key_id="AKIDEXAMPLE",
            aws_secret_access_key="secret",
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )

    def seed(self, **body: Any) -> dict[str, Any]:
        return self.ok("POST", "/seed", body)

    def calls(self, **filters: str) -> list[dict[str, Any]]:
        q = "&".join(f"{k}={v}" for k, v in filters.items())
        return self.ok("GET", "/calls" + (f"?{q}" if q else ""))["calls"]


@pytest.fixture(scope="session")
def server():
    proc, url = start_emulator()
    yield url
    proc.send_signal(signal.SIGTERM)
    try:
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.fixture
def emu(server) -> Emulator:
    e = Emulator(server)
    e.ok("POST", "/reset")
    e.ok(
        "PUT",
        "/config",
        {
            "transition_seconds": 0,
            "rds_transition_seconds": None,
            "appconfig_deploy_seconds": None,
            "appconfig_bake_seconds": None,
            "route53_insync_seconds": None,
        },
    )
    return e


def error_code(exc) -> str:
    return exc.response["Error"]["Code"]


def http_status(exc) -> int:
    return exc.response["ResponseMetadata"]["HTTPStatusCode"]
