"""A Feast feature service resolved once into per-view reads (views, features, join keys) and
on-demand views: what every columnar read of this store starts from."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, replace

from feast import FeatureService, FeatureStore, FeatureView
from feast.on_demand_feature_view import OnDemandFeatureView

from livecart.online.codec import key_columns


@dataclass(frozen=True)
class ViewRead:
    view: FeatureView
    features: tuple[str, ...]
    join_keys: tuple[str, ...]  # the view's stored key columns, in store order


@dataclass(frozen=True)
class ServicePlan:
    """What reading one feature service takes, resolved once from the registry."""

    name: str
    views: tuple[ViewRead, ...]
    on_demand: tuple[tuple[OnDemandFeatureView, tuple[str, ...]], ...]

    @property
    def entity_columns(self) -> tuple[str, ...]:
        keys: dict[str, None] = {}
        for read in self.views:
            keys.update(dict.fromkeys(read.join_keys))
        return tuple(keys)

    @property
    def feature_names(self) -> tuple[str, ...]:
        names = [n for read in self.views for n in read.features]
        names += [n for _, feats in self.on_demand for n in feats]
        return tuple(names)

    def only(self, names: Collection[str], purpose: str) -> ServicePlan:
        """This plan narrowed to the stored features in ``names`` (views without any of them
        left out, on-demand views too): a read that needs a few of a service's features reads
        only those. ``purpose`` names the narrowed plan (``<service>:<purpose>``)."""
        views = tuple(
            replace(read, features=tuple(n for n in read.features if n in names))
            for read in self.views
            if set(names) & set(read.features)
        )
        return ServicePlan(f"{self.name}:{purpose}", views, ())


def plan_service(store: FeatureStore, service: str | FeatureService) -> ServicePlan:
    """Resolve a feature service into per-view reads (registry lookups happen here, once)."""
    fs = store.get_feature_service(service) if isinstance(service, str) else service
    views: list[ViewRead] = []
    on_demand: list[tuple[OnDemandFeatureView, tuple[str, ...]]] = []
    for projection in fs.feature_view_projections:
        features = tuple(f.name for f in projection.features)
        try:
            view: FeatureView | OnDemandFeatureView = store.get_feature_view(projection.name)
        except Exception:
            view = store.get_on_demand_feature_view(projection.name)
        if isinstance(view, OnDemandFeatureView):
            on_demand.append((view, features))
        else:
            views.append(ViewRead(view, features, tuple(key_columns(view))))
    return ServicePlan(fs.name, tuple(views), tuple(on_demand))


def plan_service_for_view(store: FeatureStore, view_name: str) -> ServicePlan:
    """A one-view plan (for embedding lookups), cached per store and view."""
    key = (id(store), view_name)
    plan = _VIEW_PLANS.get(key)
    if plan is None:
        view = store.get_feature_view(view_name)
        plan = _VIEW_PLANS[key] = plan_service(
            store, FeatureService(name=f"{view_name}__lookup", features=[view])
        )
    return plan


_VIEW_PLANS: dict[tuple[int, str], ServicePlan] = {}
