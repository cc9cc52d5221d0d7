from django.urls import path

from apps.chat.api import ChatView, ConversationDetailView, ConversationListView

urlpatterns = [
    path("chat", ChatView.as_view(), name="chat"),
    path("chat/conversations", ConversationListView.as_view(), name="chat-conversations"),
    path("chat/conversations/<str:id>", ConversationDetailView.as_view(), name="chat-conversation"),
]
