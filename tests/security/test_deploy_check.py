import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_check_deploy_reports_nothing_with_production_settings(tmp_path):
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("DEALFLOW_", "DJANGO_"))
    }
    environment.update(
        {
            "DEBUG": "false",
            "HTTPS": "true",
            "SECRET_KEY": "a3f9c1e07b5d4a8e9f20c6d1b7e34a5f8c9d0e1f2a3b4c5d6e7f8091a2b3c4d5",
            "ALLOWED_HOSTS": "crm.example.com",
            "DEALFLOW_VAR_DIR": str(tmp_path),
            "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}",
        }
    )
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "check", "--deploy", "--fail-level", "WARNING"],
        env=environment,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_health_check_answers_without_sign_in(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
