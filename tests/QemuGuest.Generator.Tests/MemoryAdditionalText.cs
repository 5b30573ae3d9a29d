using System.Text;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace QemuGuest.Generator.Tests;

/// <summary>An AdditionalText held in memory.</summary>
internal sealed class MemoryAdditionalText : AdditionalText
{
    private readonly SourceText _text;

    public MemoryAdditionalText(string path, string text)
    {
        Path = path;
        _text = SourceText.From(text, Encoding.UTF8);
    }

    public override string Path { get; }

    public override SourceText GetText(CancellationToken cancellationToken = default) => _text;
}
