using System.Net.Http.Json;
using FleetAspire.Data.MachineTransition.Backfill;
using FleetAspire.Migration.Apis;

namespace FleetAspire.Testing;

/// <summary>Every dirty-row report through the control API, page by page, as an operator's script reads them.</summary>
public static class DirtyReports
{
    /// <param name="query">Filters as the API takes them, e.g. <c>state=open&amp;class=invalid-ipv4</c>.</param>
    public static async Task<List<DirtyRow>> AllAsync(HttpClient control, string query = "", int pageSize = 1000)
    {
        var rows = new List<DirtyRow>();
        string? after = null;
        do
        {
            var page = await control.GetFromJsonAsync<Page<DirtyRow>>(
                $"/api/migration/dirty?limit={pageSize}{(query.Length > 0 ? "&" + query : "")}{(after is null ? "" : "&after=" + after)}");
            rows.AddRange(page!.Items);
            after = page.NextCursor;
        }
        while (after is not null);

        return rows;
    }
}
