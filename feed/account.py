"""The viewer's own settings (for now: bio and whether to see AI-generated videos)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from feed.models import User


class SettingsForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ("bio", "hide_ai_videos")
        labels = {"hide_ai_videos": "Hide AI-generated videos in my feed"}
        widgets = {"bio": forms.Textarea(attrs={"rows": 3, "maxlength": 300})}


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    form = SettingsForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Settings saved.")
        return redirect("settings")
    return render(request, "account/settings.html", {"form": form})
