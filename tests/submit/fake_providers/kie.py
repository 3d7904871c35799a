"""KIE fake: createTask/recordInfo with errors inside HTTP 200 bodies, multipart file-stream upload."""

from __future__ import annotations

import json
import uuid
from typing import Any, ClassVar

from .base import FakeServer, Reply, parse_multipart, scripted
from .contracts import CONTRACTS, problems


class FakeKie(FakeServer):
    name = "kie"
    auth_error: ClassVar[Any] = {"code": 401, "msg": "You do not have access permissions"}
    statuses = ("waiting", "queuing", "generating", "success")

    def authorized(self, headers: dict[str, str]) -> bool:
        return headers.get("authorization") == f"Bearer {self.secrets['KIE_API_KEY']}"

    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes) -> Reply:
        if method == "POST" and path == "/api/file-stream-upload":
            form = parse_multipart(headers, body)
            if "file" not in form or "uploadPath" not in form:
                return Reply(400, {"success": False, "code": 400, "msg": "file and uploadPath are required"})
            name = form["fileName"][1].decode() if "fileName" in form else uuid.uuid4().hex
            self.files[name] = form["file"][1]  # as at KIE: the same fileName overwrites
            return Reply(
                200,
                {
                    "success": True,
                    "code": 200,
                    "msg": "File uploaded successfully",
                    "data": {
                        "fileName": name,
                        "filePath": f"{form['uploadPath'][1].decode()}/{name}",
                        "downloadUrl": f"{self.url}/files/{name}",
                        "fileSize": len(form["file"][1]),
                    },
                },
            )
        if method == "POST" and path == "/api/v1/jobs/createTask":
            canned = scripted(self, "create")
            if canned:
                return canned
            data = json.loads(body)
            fields = data.get("input") or {}
            contract = CONTRACTS["kie"].get(str(data.get("model")))
            problem = "model is not supported" if contract is None else "; ".join(problems(contract, fields))
            if problem:
                return Reply(200, {"code": 422, "msg": problem, "data": None})
            task_id = self.new_task(data)
            if self.drop_create:
                self.drop_create = False
                return Reply(drop=True)
            return Reply(200, {"code": 200, "msg": "success", "data": {"taskId": task_id}})
        if method == "GET" and path == "/api/v1/jobs/recordInfo":
            task_id = query.get("taskId", "")
            if task_id not in self.tasks:
                return Reply(200, {"code": 404, "msg": "task not found", "data": None})
            word = self.advance(task_id)
            record: dict[str, Any] = {
                "taskId": task_id,
                "model": self.tasks[task_id]["body"]["model"],
                "state": word,
                "resultJson": "",
                "failCode": "",
                "failMsg": "",
            }
            if word == "FAILED":
                record.update(state="fail", failCode="500", failMsg=self.fail_reason)
            elif word == "success":
                record["resultJson"] = json.dumps({"resultUrls": [self.result_url(task_id)]})
            return Reply(200, {"code": 200, "msg": "success", "data": record})
        return Reply(404, {"code": 404, "msg": "Not Found"})
