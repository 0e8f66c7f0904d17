using FleetAspire.Cloud;
using FleetAspire.Contracts.Pool;
using FleetAspire.Data.Entities;
using FleetAspire.Pool.Application;
using FleetAspire.Messaging;
using MassTransit;

namespace FleetAspire.Pool.Consumers;

/// <summary>A claim took a machine out of the pool: replenish now rather than at the next tick. Idempotent: a signal.</summary>
public sealed class MachineClaimedConsumer(ReconcileSignal reconcile) : IConsumer<MachineClaimed>
{
    public Task Consume(ConsumeContext<MachineClaimed> context)
    {
        reconcile.Notify();
        return Task.CompletedTask;
    }
}
