"""`manage.py api_token create NAME --scope read --scope write`, `revoke NAME`, `list`:
the admin's token actions from the command line, under the same permission."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management.base import BaseCommand, CommandError

from webapp.api.models import ApiClient
from webapp.api.tokens import api_client_create, api_client_revoke
from webapp.permissions import command_user, user_argument_add


class Command(BaseCommand):
    help = "Create, revoke or list the shop's API tokens."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["create", "revoke", "list"])
        parser.add_argument("name", nargs="?", default="")
        parser.add_argument(
            "--scope", action="append", dest="scopes", default=[], choices=ApiClient.Scope.values
        )
        parser.add_argument("--per-minute", type=int, default=600)
        user_argument_add(parser)

    def handle(self, *args, action, name, scopes, per_minute, acting_user, **options):
        if action == "list":
            for client in ApiClient.objects.all():
                state = f"revoked {client.revoked_at:%Y-%m-%d}" if client.revoked_at else "live"
                self.stdout.write(
                    f"{client.name}\t{client.prefix}…\t{','.join(client.scopes)}"
                    f"\t{client.requests_per_minute}/min\t{state}"
                )
            return
        user = command_user(acting_user)
        try:
            if action == "create":
                client, token = api_client_create(
                    user=user,
                    name=name,
                    scopes=scopes or ["read"],
                    requests_per_minute=per_minute,
                )
                self.stdout.write(f"Token for {client.name} (shown once, keep it): {token}")
            else:
                client = ApiClient.objects.filter(name=name).first()
                if client is None:
                    raise CommandError(f"no API client named {name!r}")
                api_client_revoke(user=user, client=client)
                self.stdout.write(f"Revoked {client.name}.")
        except PermissionDenied as error:
            raise CommandError(str(error)) from None
        except ValidationError as error:
            problems = "; ".join(m for ms in error.message_dict.values() for m in ms)
            raise CommandError(problems) from None
