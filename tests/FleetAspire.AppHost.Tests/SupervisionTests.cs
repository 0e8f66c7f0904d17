using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text.Json;
using FleetAspire.Names;
using FleetAspire.Testing;

namespace FleetAspire.AppHost.Tests;

/// <summary>What the AppHost does for a service beyond starting it once: supervision, ports, the settings it passes.</summary>
[Collection(FleetAppHostCollection.Name)]
public sealed class SupervisionTests(FleetAppHostFixture fixture)
{
    [Fact]
    public async Task A_SIGKILLed_service_refuses_connections_at_once_and_the_AppHost_starts_it_again()
    {
        using var probe = fixture.Client(ResourceNames.Snapshots, token: null);
        var port = probe.BaseAddress!.Port;
        Assert.Equal(ServicePorts.Snapshots, port);

        var killed = fixture.Run.Kill(ResourceNames.Snapshots);

        // No proxy holds the port: a connection attempt is refused, not accepted and left unanswered.
        SocketError? refused = null;
        await Eventually.TrueAsync(async () =>
        {
            refused = await ConnectAsync(port);
            return refused == SocketError.ConnectionRefused;
        }, TimeSpan.FromSeconds(10), () => $"the dead service's port answered {refused?.ToString() ?? "a connection"} instead of refusing");
        var clock = Stopwatch.StartNew();
        await fixture.Run.WaitRestartedAsync(ResourceNames.Snapshots, killed, TimeSpan.FromSeconds(90));
        Assert.Equal(HttpStatusCode.OK, (await probe.GetAsync("/health")).StatusCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"back after {clock.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task A_service_an_operator_stops_stays_stopped_until_started()
    {
        Assert.True((await fixture.Run.CommandAsync(ResourceNames.Pool, KnownResourceCommands.StopCommand)).Success);
        await fixture.App.ResourceNotifications.WaitForResourceAsync(ResourceNames.Pool,
            s => s.Snapshot.State?.Text is "Exited" or "Finished", new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        // Longer than the supervisor's first pause: it would have started it by now.
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(4);
        while (DateTime.UtcNow < until)
        {
            Assert.Equal(SocketError.ConnectionRefused, await ConnectAsync(ServicePorts.Pool));
            await Task.Delay(TimeSpan.FromMilliseconds(250)); // spacing of the probes, not a wait for anything
        }

        Assert.True((await fixture.Run.CommandAsync(ResourceNames.Pool, KnownResourceCommands.StartCommand)).Success);
        await fixture.App.ResourceNotifications.WaitForResourceHealthyAsync(ResourceNames.Pool, new CancellationTokenSource(TimeSpan.FromSeconds(90)).Token);
    }

    [Fact]
    public async Task The_AppHost_passes_its_phase_settings_to_the_control_service()
    {
        using var ops = fixture.Client(ResourceNames.Migration, TestTokens.Operator());
        var settings = (await ops.GetFromJsonAsync<JsonElement>("/api/migration")).GetProperty("settings");

        // Given to the AppHost on its command line (FleetAppHostFixture.Settings), never in the control service's environment.
        Assert.Equal(("00:07:00", "02:00:00", "00:03:00"),
            (settings.GetProperty("quietPeriod").GetString(), settings.GetProperty("contractSoak").GetString(), settings.GetProperty("oldCodeWindow").GetString()));
    }

    private static async Task<SocketError?> ConnectAsync(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        try
        {
            await socket.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
            return null;
        }
        catch (SocketException ex)
        {
            return ex.SocketErrorCode;
        }
        catch (OperationCanceledException)
        {
            return SocketError.TimedOut;
        }
    }
}
