"""Structure templates for MH_x, the builder that adapts them to a metal and pressure, and sanity checks."""

from screening.structures.builder import StructureError, build_structure, check_distances, h2_structure, metal_structures
from screening.structures.templates import Template, load_templates, templates_for

__all__ = [
    "StructureError",
    "Template",
    "build_structure",
    "check_distances",
    "h2_structure",
    "load_templates",
    "metal_structures",
    "templates_for",
]
