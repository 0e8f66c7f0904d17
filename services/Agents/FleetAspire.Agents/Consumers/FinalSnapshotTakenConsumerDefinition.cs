using FleetAspire.Contracts.Machines;
using FleetAspire.Contracts.Snapshots;
using FleetAspire.Data;
using FleetAspire.Data.Assignments;
using FleetAspire.Data.Entities;
using FleetAspire.Data.Writes;
using FleetAspire.Messaging;
using MassTransit;
using Microsoft.EntityFrameworkCore;

namespace FleetAspire.Agents.Consumers;

/// <summary>Database retries (<see cref="ConsumerRetry.Database"/>); at most 8 messages in flight per endpoint.</summary>
public sealed class FinalSnapshotTakenConsumerDefinition : ConsumerDefinition<FinalSnapshotTakenConsumer>
{
    public FinalSnapshotTakenConsumerDefinition() => ConcurrentMessageLimit = 8;

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<FinalSnapshotTakenConsumer> consumerConfigurator, IRegistrationContext context) =>
        endpointConfigurator.UseMessageRetry(ConsumerRetry.Database);
}
