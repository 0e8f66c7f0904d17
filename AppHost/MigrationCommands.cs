using System.Net.Http.Json;
using System.Text.Json;
using FleetAspire.Names;
using FleetAspire.ServiceDefaults.Auth;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace FleetAspire.AppHost;

internal static class MigrationCommands
{
    /// <summary>Resource properties the dashboard shows on the migration resource; the phase commands read them too.</summary>
    private const string PhaseProperty = "fleet.migration.phase";
    private const string EpochProperty = "fleet.migration.epoch";
    private const string NextProperty = "fleet.migration.next";
    private const string PreviousProperty = "fleet.migration.previous";
    private const string ContractedPhase = "Contracted";
    private const string ContractProperty = "fleet.migration.contract";

    /// <summary>
    /// Dashboard buttons for the control API. It is operator-only, so each command carries a one-minute operator token
    /// minted from the signing key the AppHost already hands to the services.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithMigrationCommands(
        this IResourceBuilder<ProjectResource> migration, IResourceBuilder<ParameterResource> signingKey)
    {
        (string Path, string Name, string Description)[] commands =
        [
            ("/api/migration/backfill/start", "Start backfill", "Copy the legacy model into Machine from the beginning"),
            ("/api/migration/backfill/pause", "Pause backfill", "Stop after the current batch"),
            ("/api/migration/backfill/resume", "Resume backfill", "Continue from the last checkpoint"),
            ("/api/migration/verify", "Verify", "Compare legacy and Machine now"),
        ];
        foreach (var (path, name, description) in commands)
        {
            migration.WithHttpCommand(path, name, commandOptions: new HttpCommandOptions
            {
                Description = description,
                Method = HttpMethod.Post,
                PrepareRequest = context => AuthorizeAsync(context.Request, signingKey, context.CancellationToken),
            });
        }

        migration.WithPhaseCommand(signingKey, NextProperty, "Next phase",
            "Flip the fleet one phase forward. Gates are checked again by the control service; a refused flip changes nothing.",
            oneWay: false);
        migration.WithPhaseCommand(signingKey, PreviousProperty, "Roll back one phase",
            "Flip the fleet one phase back. Every instance follows within 2 s.", oneWay: false);
        // Its own button, so the one-way step is never one click of "Next phase" away: the confirmation says what goes.
        migration.WithPhaseCommand(signingKey, NextProperty, "Contract (one-way)",
            "ONE-WAY — cannot be rolled back. Contracted drops the agents' legacy machine columns, parked_machines, " +
            "custom_machines and the change capture, and makes snapshot and health-check relations required foreign keys; " +
            "the control service then applies the contract set step by step (GET /api/migration/contract).",
            oneWay: true);

        migration.ApplicationBuilder.Services.AddHostedService(sp => new PhaseStatePublisher(
            migration.Resource, signingKey.Resource, sp.GetRequiredService<ResourceNotificationService>()));
        return migration;
    }

    /// <summary>
    /// A flip to the phase the control service last named as next (or previous), with a confirmation naming it, and
    /// disabled while its gates fail or no such phase exists.
    /// </summary>
    /// <param name="oneWay">The command for the one-way flip to Contracted (enabled only for it); the others never offer it.</param>
    private static void WithPhaseCommand(this IResourceBuilder<ProjectResource> migration, IResourceBuilder<ParameterResource> signingKey,
        string property, string name, string description, bool oneWay)
    {
        migration.WithHttpCommand("/api/migration/phase", name, commandName: "phase-" + property + (oneWay ? "-contract" : ""), commandOptions: new HttpCommandOptions
        {
            Description = description,
            Method = HttpMethod.Post,
            ConfirmationMessage = description + " Continue?",
            UpdateState = context => TargetOf(context.ResourceSnapshot, property) is { Open: true } target
                                     && (target.Target == ContractedPhase) == oneWay
                ? ResourceCommandState.Enabled
                : ResourceCommandState.Disabled,
            PrepareRequest = async context =>
            {
                await AuthorizeAsync(context.Request, signingKey, context.CancellationToken);
                var snapshot = context.Services.GetRequiredService<ResourceNotificationService>();
                var target = snapshot.TryGetCurrentState(context.ResourceName, out var state) ? TargetOf(state.Snapshot, property)?.Target : null;
                context.Request.Content = JsonContent.Create(new { target, reason = $"{name} from the Aspire dashboard", force = false, confirmOneWay = oneWay });
            },
        });
    }

    private static (string Target, bool Open)? TargetOf(CustomResourceSnapshot snapshot, string property)
    {
        var value = snapshot.Properties.FirstOrDefault(p => p.Name == property)?.Value as string;
        if (string.IsNullOrEmpty(value))
        {
            return null;
        }

        // "<Target> (gates open)" or "<Target> (gates failing: …)": the property is for people, the prefix for us.
        var target = value.Split(' ')[0];
        return (target, value.Contains("(gates open)", StringComparison.Ordinal));
    }

    private static async Task AuthorizeAsync(HttpRequestMessage request, IResourceBuilder<ParameterResource> signingKey, CancellationToken cancellationToken) =>
        request.Headers.Authorization = new("Bearer", await OperatorTokenAsync(signingKey.Resource, cancellationToken));

    private static async Task<string> OperatorTokenAsync(ParameterResource signingKey, CancellationToken cancellationToken)
    {
        var key = await signingKey.GetValueAsync(cancellationToken)
                  ?? throw new InvalidOperationException("The signing key parameter has no value.");
        return FleetTokens.Create(key, "aspire-dashboard", AuthNames.OperatorRole, TimeSpan.FromMinutes(1));
    }

    /// <summary>
    /// Reads the phase, epoch and gate state from the control service every few seconds and shows them as properties
    /// of the migration resource; the phase commands enable themselves from these.
    /// </summary>
    private sealed class PhaseStatePublisher(ProjectResource migration, ParameterResource signingKey, ResourceNotificationService notifications)
        : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            var endpoint = migration.GetEndpoint("http");
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(3), stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                if (stoppingToken.IsCancellationRequested || !endpoint.IsAllocated)
                {
                    continue;
                }

                try
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(new Uri(endpoint.Url), "/api/migration"));
                    request.Headers.Authorization = new("Bearer", await OperatorTokenAsync(signingKey, stoppingToken));
                    using var response = await http.SendAsync(request, stoppingToken);
                    if (!response.IsSuccessStatusCode)
                    {
                        continue;
                    }

                    var status = await response.Content.ReadFromJsonAsync<JsonElement>(stoppingToken);
                    var phases = status.GetProperty("phases");
                    await notifications.PublishUpdateAsync(migration, s => s with
                    {
                        Properties = With(s.Properties,
                            (PhaseProperty, phases.GetProperty("phase").GetString() ?? ""),
                            (EpochProperty, phases.GetProperty("epoch").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture)),
                            (NextProperty, Describe(phases.GetProperty("next"))),
                            (PreviousProperty, Describe(phases.GetProperty("previous"))),
                            (ContractProperty, DescribeContract(status.GetProperty("contract")))),
                    });
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException or KeyNotFoundException or InvalidOperationException)
                {
                    // The control service is starting or restarting: keep the last state, try again shortly.
                }
            }
        }

        private static System.Collections.Immutable.ImmutableArray<ResourcePropertySnapshot> With(
            System.Collections.Immutable.ImmutableArray<ResourcePropertySnapshot> properties, params (string Name, string Value)[] values)
        {
            var names = values.Select(v => v.Name).ToHashSet(StringComparer.Ordinal);
            return [.. properties.Where(p => !names.Contains(p.Name)), .. values.Select(v => new ResourcePropertySnapshot(v.Name, v.Value))];
        }

        /// <summary>"7/14 steps applied (next: …)" once the flip to Contracted scheduled the contract set.</summary>
        private static string DescribeContract(JsonElement steps)
        {
            var all = steps.EnumerateArray().ToList();
            if (all.Count == 0)
            {
                return "";
            }

            var owed = all.Where(s => s.GetProperty("finishedAt").ValueKind == JsonValueKind.Null).ToList();
            return owed.Count == 0
                ? $"{all.Count}/{all.Count} steps applied"
                : $"{all.Count - owed.Count}/{all.Count} steps applied (next: {owed[0].GetProperty("name").GetString()}" +
                  (owed[0].GetProperty("lastError").GetString() is { } error ? $", last error: {error}" : "") + ")";
        }

        private static string Describe(JsonElement readiness)
        {
            if (readiness.ValueKind != JsonValueKind.Object)
            {
                return "";
            }

            var target = readiness.GetProperty("target").GetString();
            if (readiness.GetProperty("open").GetBoolean())
            {
                return $"{target} (gates open)";
            }

            var failing = readiness.GetProperty("gates").EnumerateArray()
                .Where(g => !g.GetProperty("passed").GetBoolean()).Select(g => g.GetProperty("gate").GetString());
            return $"{target} (gates failing: {string.Join(", ", failing)})";
        }
    }
}
