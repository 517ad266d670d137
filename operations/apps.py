from django.apps import AppConfig


class OperationsConfig(AppConfig):
    name = "operations"
    verbose_name = "Inventaires, destructions, vols et pertes, dotations des services"
