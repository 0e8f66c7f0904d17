using System.Net;
using System.Text.RegularExpressions;
using FleetAspire.ServiceDefaults.OpenApi;
using FleetAspire.Testing;
using Microsoft.OpenApi;
using Microsoft.OpenApi.Reader;

namespace FleetAspire.Transition.Tests;

public sealed class OpenApiFleet : PhaseFleet;

/// <summary>Every service's OpenAPI document: valid, anonymous, with the bearer scheme, the shared ProblemDetails answers and every route the README names.</summary>
public sealed partial class OpenApiDocumentTests(OpenApiFleet fleet) : IClassFixture<OpenApiFleet>
{
    public static TheoryData<string> Services => new("agents", "machines", "pool", "snapshots", "migration");

    [Theory]
    [MemberData(nameof(Services))]
    public async Task Each_service_publishes_a_valid_document_naming_every_README_route_it_serves(string service)
    {
        using var client = ClientFor(service);
        using var response = await client.GetAsync(OpenApiExtensions.DocumentPath);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var stream = await response.Content.ReadAsStreamAsync();
        var read = await OpenApiDocument.LoadAsync(stream, OpenApiConstants.Json, new OpenApiReaderSettings());
        Assert.Empty(read.Diagnostic?.Errors ?? []);
        var document = read.Document!;
        Assert.Empty(document.Validate(Microsoft.OpenApi.ValidationRuleSet.GetDefaultRuleSet()) ?? []);

        Assert.Equal($"FleetAspire {service} API", document.Info.Title);
        var bearer = Assert.IsType<OpenApiSecurityScheme>(document.Components!.SecuritySchemes![OpenApiExtensions.BearerScheme]);
        Assert.Equal(SecuritySchemeType.Http, bearer.Type);
        Assert.Equal("bearer", bearer.Scheme);

        var routes = ReadmeRoutes().Where(r => Serves(service, r.Path)).ToList();
        Assert.NotEmpty(routes);
        foreach (var (method, path) in routes)
        {
            Assert.True(document.Paths.TryGetValue(path, out var item) && item.Operations!.ContainsKey(new HttpMethod(method)),
                $"{method} {path} (README) is not in the {service} document");
        }

        foreach (var (path, item) in document.Paths.Where(p => p.Key.StartsWith("/api/", StringComparison.Ordinal)))
        {
            foreach (var (method, operation) in item.Operations!)
            {
                var outage = operation.Responses!["503"];
                Assert.True(outage.Content!.ContainsKey("application/problem+json"), $"{method} {path}: 503 is not ProblemDetails");
            }
        }
    }

    [Fact]
    public async Task Operations_that_need_a_token_say_so_and_the_machine_signed_heartbeat_does_not()
    {
        using var client = ClientFor("machines");
        await using var stream = await client.GetStreamAsync(OpenApiExtensions.DocumentPath);
        var document = (await OpenApiDocument.LoadAsync(stream, OpenApiConstants.Json, new OpenApiReaderSettings())).Document!;

        var heartbeat = document.Paths["/api/machines/heartbeats"].Operations![HttpMethod.Post];
        Assert.True(heartbeat.Security is null || heartbeat.Security.Count == 0);
        Assert.False(heartbeat.Responses!.ContainsKey("401"));
        var register = document.Paths["/api/machines/custom"].Operations![HttpMethod.Post];
        Assert.Contains(register.Security!, r => r.Keys.Any(k => k.Reference.Id == OpenApiExtensions.BearerScheme));
        Assert.True(register.Responses!.ContainsKey("401"));
    }

    [Fact]
    public async Task The_document_UI_is_served_in_Development_only()
    {
        // These hosts run as "Testing": the UI (Scalar, /scalar) is not there; the document is.
        using var client = ClientFor("agents");
        using var ui = await client.GetAsync("/scalar/v1");
        Assert.NotEqual(HttpStatusCode.OK, ui.StatusCode);
        using var document = await client.GetAsync(OpenApiExtensions.DocumentPath);
        Assert.Equal(HttpStatusCode.OK, document.StatusCode);
    }

    private HttpClient ClientFor(string service) => service switch
    {
        "agents" => fleet.Agents.ClientFor(null),
        "machines" => fleet.Machines.ClientFor(null),
        "pool" => fleet.Pool.ClientFor(null),
        "snapshots" => fleet.Snapshots.ClientFor(null),
        _ => fleet.Control.ClientFor(null),
    };

    /// <summary>The outbox's operator routes are on every service with an outbox (all but the control service).</summary>
    private static bool Serves(string service, string path) =>
        path.StartsWith("/api/outbox/", StringComparison.Ordinal) ? service != "migration" : path.StartsWith($"/api/{service}", StringComparison.Ordinal);

    /// <summary>Every "METHOD /api/…" the README names (query strings dropped), except the dashboard's own API.</summary>
    private static IEnumerable<(string Method, string Path)> ReadmeRoutes()
    {
        var readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));
        return RouteInReadme().Matches(readme)
            .Select(m => (m.Groups[1].Value, m.Groups[2].Value.TrimEnd('\\', '.', ',', ':')))
            .Where(r => !r.Item2.StartsWith("/api/telemetry", StringComparison.Ordinal))
            .Distinct();
    }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "FleetAspire.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("FleetAspire.sln not found above the test's directory");
    }

    [GeneratedRegex(@"\b(GET|POST|PUT|PATCH|DELETE) +(/api/[A-Za-z0-9_/{}\-]+)")]
    private static partial Regex RouteInReadme();
}
