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

public sealed class MachineHealthConsumerDefinition : ConsumerDefinition<MachineHealthConsumer>
{
    public MachineHealthConsumerDefinition() => ConcurrentMessageLimit = 8;

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<MachineHealthConsumer> consumerConfigurator, IRegistrationContext context) =>
        endpointConfigurator.UseMessageRetry(ConsumerRetry.Database);
}
