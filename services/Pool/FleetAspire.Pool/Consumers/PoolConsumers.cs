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

public sealed class MachineReleasedConsumerDefinition : ConsumerDefinition<MachineReleasedConsumer>
{
    public MachineReleasedConsumerDefinition() => ConcurrentMessageLimit = 8;

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<MachineReleasedConsumer> consumerConfigurator, IRegistrationContext context) =>
        endpointConfigurator.UseMessageRetry(ConsumerRetry.CloudProvider);
}

/// <summary>A claim took a machine out of the pool: replenish now rather than at the next tick. Idempotent: a signal.</summary>
public sealed class MachineClaimedConsumer(ReconcileSignal reconcile) : IConsumer<MachineClaimed>
{
    public Task Consume(ConsumeContext<MachineClaimed> context)
    {
        reconcile.Notify();
        return Task.CompletedTask;
    }
}

public sealed class MachineClaimedConsumerDefinition : ConsumerDefinition<MachineClaimedConsumer>
{
    public MachineClaimedConsumerDefinition() => ConcurrentMessageLimit = 8;
}
