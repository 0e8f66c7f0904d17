using FleetAspire.Cloud;
using FleetAspire.Contracts.Pool;
using FleetAspire.Data.Entities;
using FleetAspire.Pool.Application;
using FleetAspire.Messaging;
using MassTransit;

namespace FleetAspire.Pool.Consumers;

/// <summary>
/// Destroys the server of a released pool machine. Idempotent by nature: deleting a server that is already gone
/// succeeds, so a redelivered message changes nothing.
/// </summary>
public sealed class MachineReleasedConsumer(ICloudProvider provider, ReconcileSignal reconcile) : IConsumer<MachineReleased>
{
    public async Task Consume(ConsumeContext<MachineReleased> context)
    {
        if (context.Message.MachineType == MachineTypes.Hetzner)
        {
            await provider.DeleteServerAsync(context.Message.MachineId, context.CancellationToken);
        }

        reconcile.Notify();
    }
}
