using FleetAspire.Data;

namespace FleetAspire.Pool.Application;

/// <summary>Lets a claim or release event or a target change start a reconcile pass now instead of at the next tick.</summary>
public sealed class ReconcileSignal : WakeSignal;
