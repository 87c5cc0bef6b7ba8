"""The notification keys of the driver's configuration (`notify:` in the YAML file).

Plain pydantic models with no import of the driver, so that `driver/settings.py` can nest
them without an import cycle (like `dashboard/config.py`). A bad key is named by its full
path (`notify.smtp.from_address: ...`) in the one ConfigError the driver prints.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from winjobs.wire import check_mail_address


class SmtpSettings(BaseModel):
    """The company's mail server, for `mail:` targets.

    ```yaml
    notify:
      smtp:
        host: smtp.example.com
        port: 587            # 25 without STARTTLS, 587 with
        starttls: true       # upgrade the connection to TLS before logging in
        username: winjobs    # both or neither of username and password
        password: "..."
        from_address: winjobs@example.com
    ```"""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(min_length=1, max_length=255)
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    username: str | None = Field(None, min_length=1)
    password: SecretStr | None = Field(None, repr=False)
    from_address: str
    timeout_s: float = Field(30.0, gt=0, le=600)

    @field_validator("host")
    @classmethod
    def _bare_host(cls, value: str) -> str:
        if "://" in value or "/" in value or any(c.isspace() for c in value):
            raise ValueError(f"{value!r}: give the server's name only, e.g. smtp.example.com")
        return value

    @field_validator("from_address")
    @classmethod
    def _address(cls, value: str) -> str:
        return check_mail_address(value)

    @model_validator(mode="after")
    def _credentials_in_pairs(self) -> SmtpSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password, or neither")
        return self


class NotifySettings(BaseModel):
    """How the driver tells users that their jobs ended (docs/driver.md, "Notifications").

    ```yaml
    notify:
      public_url: http://driver-host:8000   # links in the messages (default: host:port)
      webhook_secret: "..."   # HMAC key; default: generated in <data_dir>/notify-secret.txt
      webhook_timeout_s: 10
      first_retry_s: 30       # then doubling, at most max_retry_delay_s apart
      max_retry_delay_s: 3600
      max_attempts: 10        # then the notification is given up
      poll_interval_s: 2      # how often the sender looks for due notifications
      smtp: {...}             # see SmtpSettings; without it, mail: targets are refused
    ```"""

    model_config = ConfigDict(extra="forbid", frozen=True)

    public_url: str | None = None
    webhook_secret: SecretStr | None = Field(None, repr=False)
    webhook_timeout_s: float = Field(10.0, gt=0, le=300)
    first_retry_s: float = Field(30.0, gt=0)
    max_retry_delay_s: float = Field(3600.0, gt=0)
    max_attempts: int = Field(10, ge=1, le=100)
    poll_interval_s: float = Field(2.0, gt=0, le=3600)
    smtp: SmtpSettings | None = None

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError(f"{value!r} must start with http:// or https://")
        return None if value is None else value.rstrip("/")

    @field_validator("webhook_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("use at least 16 characters (or leave it out: one is generated)")
        return value

    @model_validator(mode="after")
    def _delays_in_order(self) -> NotifySettings:
        if self.first_retry_s > self.max_retry_delay_s:
            raise ValueError("first_retry_s must not exceed max_retry_delay_s")
        return self
