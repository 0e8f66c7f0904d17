using FleetAspire.Messaging;
using MassTransit;

namespace FleetAspire.Snapshots.Consumers;

public sealed class AgentDeletionRequestedConsumerDefinition : ConsumerDefinition<AgentDeletionRequestedConsumer>
{
    public AgentDeletionRequestedConsumerDefinition() => ConcurrentMessageLimit = 4;

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator,
        IConsumerConfigurator<AgentDeletionRequestedConsumer> consumerConfigurator, IRegistrationContext context) =>
        endpointConfigurator.UseMessageRetry(ConsumerRetry.CloudProvider);
}
