from django.apps import AppConfig


class PetClinicConfig(AppConfig):
    name = 'pet_clinic'
