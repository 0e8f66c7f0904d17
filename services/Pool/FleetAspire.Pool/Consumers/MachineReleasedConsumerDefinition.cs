using FleetAspire.Cloud;
using FleetAspire.Contracts.Pool;
using FleetAspire.Data.Entities;
using FleetAspire.Pool.Application;
using FleetAspire.Messaging;
using MassTransit;

namespace FleetAspire.Pool.Consumers;

public sealed class MachineReleasedConsumerDefinition : ConsumerDefinition<MachineReleasedConsumer>
{
    public MachineReleasedConsumerDefinition() => ConcurrentMessageLimit = 8;

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<MachineReleasedConsumer> consumerConfigurator, IRegistrationContext context) =>
        endpointConfigurator.UseMessageRetry(ConsumerRetry.CloudProvider);
}
