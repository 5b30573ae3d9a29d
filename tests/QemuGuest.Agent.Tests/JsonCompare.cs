using System.Linq;
using System.Text.Json;

namespace QemuGuest.Agent.Tests;

/// <summary>Order-insensitive JSON comparisons for the differential suite.</summary>
public static class JsonCompare
{
    /// <summary>Equal values; object member order ignored.</summary>
    public static bool DeepEquals(JsonElement a, JsonElement b)
    {
        if (a.ValueKind != b.ValueKind)
        {
            return false;
        }

        switch (a.ValueKind)
        {
            case JsonValueKind.Object:
                var am = a.EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
                var bm = b.EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
                return am.Count == bm.Count && am.All(kv => bm.TryGetValue(kv.Key, out var v) && DeepEquals(kv.Value, v));
            case JsonValueKind.Array:
                var aa = a.EnumerateArray().ToList();
                var ba = b.EnumerateArray().ToList();
                return aa.Count == ba.Count && aa.Zip(ba).All(p => DeepEquals(p.First, p.Second));
            case JsonValueKind.Number:
                return a.GetRawText() == b.GetRawText() || a.GetDouble() == b.GetDouble();
            case JsonValueKind.String:
                return a.GetString() == b.GetString();
            default:
                return true;
        }
    }

    /// <summary>
    /// Every member path present in <paramref name="stock"/> exists in <paramref name="ours"/>
    /// with the same JSON kind (ours may add optional members). Arrays: element shapes are
    /// compared pairwise by position up to the shorter length, or by the first element.
    /// Returns the first difference, or null.
    /// </summary>
    public static string? ShapeSubset(JsonElement stock, JsonElement ours, string path = "$")
    {
        if (Kind(stock) != Kind(ours))
        {
            return path + ": stock " + stock.ValueKind + ", ours " + ours.ValueKind;
        }

        if (stock.ValueKind == JsonValueKind.Object)
        {
            foreach (JsonProperty p in stock.EnumerateObject())
            {
                if (!ours.TryGetProperty(p.Name, out JsonElement o))
                {
                    return path + "." + p.Name + ": missing in ours";
                }

                string? d = ShapeSubset(p.Value, o, path + "." + p.Name);
                if (d is not null)
                {
                    return d;
                }
            }
        }
        else if (stock.ValueKind == JsonValueKind.Array)
        {
            var s = stock.EnumerateArray().ToList();
            var o = ours.EnumerateArray().ToList();
            if (s.Count > 0 && o.Count > 0)
            {
                return ShapeSubset(s[0], o[0], path + "[0]");
            }
        }

        return null;
    }

    private static JsonValueKind Kind(JsonElement e) => e.ValueKind is JsonValueKind.True or JsonValueKind.False ? JsonValueKind.True : e.ValueKind;
}
