using FleetAspire.Names;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FleetAspire.Messaging;

public static class MessagingExtensions
{
    /// <summary>
    /// MassTransit over RabbitMQ (connection string <c>rabbitmq</c>) plus the outbox dispatcher. Each service passes
    /// its own consumers; endpoint names are kebab-case and derived from the consumer type.
    /// </summary>
    public static IHostApplicationBuilder AddFleetMessaging(
        this IHostApplicationBuilder builder,
        Action<IBusRegistrationConfigurator>? consumers = null)
    {
        var connectionString = builder.Configuration.GetConnectionString(ResourceNames.RabbitMq)
            ?? throw new InvalidOperationException($"Connection string '{ResourceNames.RabbitMq}' is missing.");

        builder.Services.AddMassTransit(x =>
        {
            x.SetKebabCaseEndpointNameFormatter();
            consumers?.Invoke(x);
            x.UsingRabbitMq((context, cfg) =>
            {
                cfg.Host(new Uri(connectionString));
                cfg.ConfigureEndpoints(context);
            });
        });

        builder.Services.AddOptions<OutboxOptions>().BindConfiguration(OutboxOptions.Section);
        builder.Services.AddSingleton<OutboxSignal>();
        builder.Services.AddHostedService<OutboxDispatcher>();
        return builder;
    }
}
