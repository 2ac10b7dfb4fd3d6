"""API clients, experiments and the impression log in the admin. A token is made and
revoked through the services (which check api.manage_token, as the command does); the
token itself is shown once, on the page that answers the add form, and never stored."""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from webapp import permissions
from webapp.api.models import ApiClient, Experiment, Impression, ImpressionItem
from webapp.api.tokens import api_client_create, api_client_revoke


class ApiClientAddForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        choices=ApiClient.Scope.choices, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ApiClient
        fields = ["name", "scopes", "requests_per_minute"]

    def clean_requests_per_minute(self):
        value = self.cleaned_data["requests_per_minute"]
        if not value or value < 1:
            raise forms.ValidationError("at least 1")
        return value


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "prefix",
        "scopes",
        "requests_per_minute",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    readonly_fields = [
        "name",
        "prefix",
        "scopes",
        "requests_per_minute",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    exclude = ["token_hash"]
    actions = ["revoke"]

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = ApiClientAddForm
            kwargs["fields"] = ["name", "scopes", "requests_per_minute"]
        return super().get_form(request, obj, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj is not None else []

    def has_add_permission(self, request):
        return request.user.has_perm(permissions.API_TOKENS)

    def has_change_permission(self, request, obj=None):
        return False  # a token's scopes and limit are fixed: revoke it and make another

    def has_delete_permission(self, request, obj=None):
        return False  # impressions and events keep naming the client

    def has_revoke_permission(self, request):
        return request.user.has_perm(permissions.API_TOKENS)

    def save_model(self, request, obj, form, change):
        client, token = api_client_create(
            user=request.user,
            name=form.cleaned_data["name"],
            scopes=form.cleaned_data["scopes"],
            requests_per_minute=form.cleaned_data["requests_per_minute"],
        )
        obj.pk = client.pk
        request._vitrine_token = (client, token)

    def response_add(self, request, obj, post_url_continue=None):
        client, token = request._vitrine_token
        return TemplateResponse(
            request,
            "admin/api/token_created.html",
            {
                **self.admin_site.each_context(request),
                "client": client,
                "token": token,
                "title": f"Token for {client.name}",
                "opts": self.model._meta,
            },
        )

    @admin.action(description="Revoke the selected tokens", permissions=["revoke"])
    def revoke(self, request, queryset):
        for client in queryset:
            api_client_revoke(user=request.user, client=client)
        messages.success(request, f"Revoked {queryset.count()} token(s).")


@admin.register(Experiment)
class ExperimentAdmin(admin.ModelAdmin):
    list_display = ["name", "design", "status", "epsilon", "started_at", "stopped_at", "winner"]
    readonly_fields = [f.name for f in Experiment._meta.fields]

    def has_add_permission(self, request):
        return False  # started from the Experiments page, through the service

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ImpressionItemInline(admin.TabularInline):
    model = ImpressionItem
    extra = 0
    can_delete = False
    readonly_fields = ["artwork", "position", "score", "propensity", "team"]
    fields = readonly_fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Impression)
class ImpressionAdmin(admin.ModelAdmin):
    list_display = ["request_id", "surface", "collector", "session", "method", "arm", "created_at"]
    list_filter = ["surface", "method", "experiment"]
    readonly_fields = [f.name for f in Impression._meta.fields]
    inlines = [ImpressionItemInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
