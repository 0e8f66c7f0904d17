using System.Net.Http.Headers;
using FleetAspire.Names;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace FleetAspire.Testing;

/// <summary>
/// Hosts one real service in-process against real PostgreSQL and RabbitMQ. <typeparamref name="TEntryPoint"/> is
/// any public type of the service's assembly (several services' <c>Program</c> types would collide).
/// </summary>
public sealed class FleetServiceFactory<TEntryPoint>(
    string databaseConnectionString,
    string? amqpUri,
    IReadOnlyDictionary<string, string?>? settings = null,
    Action<IServiceCollection>? configureServices = null) : WebApplicationFactory<TEntryPoint>
    where TEntryPoint : class
{
    public string DatabaseConnectionString { get; } = databaseConnectionString;

    static FleetServiceFactory()
    {
        // Everything a service needs comes from the settings below, not from files in its project folder; pointing
        // the content root at the output folder lets tools outside tests/ (the bench) host services too.
        var variable = "ASPNETCORE_TEST_CONTENTROOT_" + typeof(TEntryPoint).Assembly.GetName().Name!.ToUpperInvariant().Replace('.', '_');
        if (Environment.GetEnvironmentVariable(variable) is null)
        {
            Environment.SetEnvironmentVariable(variable, AppContext.BaseDirectory);
        }
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        // Host settings are visible while Program builds its services, unlike late app configuration.
        builder.UseSetting($"ConnectionStrings:{ResourceNames.FleetDatabase}", DatabaseConnectionString);
        builder.UseSetting($"ConnectionStrings:{ResourceNames.RabbitMq}", amqpUri ?? "amqp://guest:guest@127.0.0.1:1/");
        builder.UseSetting(AuthNames.SigningKeyConfig, TestTokens.SigningKey);
        builder.UseSetting("Cloud:Simulator:ReadyDelay", "00:00:00");
        builder.UseSetting("Outbox:PollInterval", "00:00:00.100");
        // Test output shows test failures; service chatter at Information would bury them.
        builder.UseSetting("Logging:LogLevel:Default", "Warning");
        builder.UseSetting("Logging:LogLevel:MassTransit", "Warning");
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            builder.UseSetting(key, value);
        }

        if (configureServices is not null)
        {
            builder.ConfigureServices(configureServices);
        }
    }

    /// <summary>Serves over real Kestrel on a free loopback port (for traffic that must cross a socket); returns its address.</summary>
    public Uri StartKestrel()
    {
        UseKestrel(0);
        StartServer();
        var addresses = Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        return new Uri(addresses.First().Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
    }

    /// <summary>A client that calls as <paramref name="token"/> (see <see cref="TestTokens"/>); null for anonymous.</summary>
    public HttpClient ClientFor(string? token)
    {
        var client = CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false });
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }
}
