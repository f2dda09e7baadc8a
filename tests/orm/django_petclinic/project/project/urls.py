from django.urls import path
from pet_clinic.views import *

urlpatterns = [
    path('owner/', OwnerView.as_view(), name='owner'),
    path('owner/<id>', OwnerView.as_view(), name='owner'),
    path('pet/', PetView.as_view(), name='pet'),
    path('pet/<id>', PetView.as_view(), name='pet'),
    path('vet/', VetView.as_view(), name='vet'),
    path('vet/<id>', VetView.as_view(), name='vet'),
    path('specialty/', SpecialtyView.as_view(), name='specialty'),
    path('specialty/<name>', SpecialtyView.as_view(), name='specialty'),
    path('vet-specialties/<vet_id>', VetSpecialtiesView.as_view(), name='vet-specialties'),
    path('specialty-vets/<specialty_id>', VetSpecialtiesView.as_view(), name='vet-specialties'),
]
