"""The DSQLCluster operator (kopf). The package is not named `operator`: that is a stdlib module.

Life of a DSQLCluster:

    kubectl apply -f cluster.yaml
      -> handlers.on_change (kopf: create/update/resume) and handlers.on_timer (every interval)
           -> reconcile.reconcile(kube, body)
                model.parse(body)              spec -> Cluster (defaults, DSQL's rules, derived names)
                resources.*(cluster)           Cluster -> desired objects (pure; schema-checked in tests)
                kube.get / create / patch      only what differs (desired-hash annotation), zone by zone
                status.build(...)              workload readiness -> phase, conditions, per-zone readiness
           -> patch.status, kopf.event(...)
    kubectl delete dsqlcluster x
      -> handlers.on_delete: deletion protection holds the finalizer; otherwise DELETING and cleanup

Modules: model (spec), crd (the CRD, generated into the Helm chart), resources (builders),
material (generated TLS and credentials), kube (a small API client), reconcile, status, handlers.
"""

__version__ = "0.1.0"
