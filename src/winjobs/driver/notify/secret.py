"""The webhooks' HMAC key: from the settings, else generated once in the data folder.

Generated rather than required, so webhooks work out of the box and stay signed; kept in
`<data_dir>/notify-secret.txt` so the signature does not change at each restart (the
receivers' operators copy it from there).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from winjobs.driver.notify.config import NotifySettings
from winjobs.errors import ConfigError

SECRET_FILE = "notify-secret.txt"


def webhook_secret(settings: NotifySettings, data_dir: Path) -> bytes:
    if settings.webhook_secret is not None:
        return settings.webhook_secret.get_secret_value().encode("utf-8")
    path = data_dir / SECRET_FILE
    try:
        # exclusive creation: of two starting drivers, one writes and both read its key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_hex(32) + "\n")
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < 16:
        raise ConfigError(f"{path} holds no usable secret: delete it to get a new one")
    return key.encode("utf-8")
