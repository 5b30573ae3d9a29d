# The benchmark harness (bench/Invoke-Bench.ps1) in quick mode: every area runs once with small
# sizes against real agents, a real relay and a fresh pwsh, and the results file must be a
# well-formed table with the machine facts. No timing is asserted: only the shape.

BeforeAll {
    $script:Pwsh = Join-Path $PSHOME ($IsWindows ? 'pwsh.exe' : 'pwsh')
    $script:Bench = Join-Path $env:QEMUGUEST_REPO_ROOT 'bench/Invoke-Bench.ps1'
    $script:Tool = Join-Path $env:QEMUGUEST_REPO_ROOT 'bench/QemuGuest.Benchmarks/bin/Release/net10.0/QemuGuest.Benchmarks.dll'
    $script:Out = Join-Path $TestDrive 'RESULTS.md'
    # A file from an earlier run: its hand-measured section must survive this run, its Summary's
    # figures must show beside the new ones, and its generated sections must be replaced.
    Set-Content -Path $Out -Value @(
        '# Benchmark results', '', 'Written by `x` (bench/Invoke-Bench.ps1) on 2000-01-02 03:04 UTC in 1 min.', ''
        '## Measured by hand: a section this script did not write', '', 'kept text 1f2e', ''
        '## Summary', '', '| what | ours | stock qemu-ga | ratio (ours ÷ stock) | ceiling | command |', '|---|---:|---:|---:|---:|---|'
        '| agent binary size, MB | 123.45 | 6.78 | 18.21 (ours worse) | — | `x` |', ''
        '## Machine', '', '- old machine line zz9', '', '## Details', '', '### Old detail qq8', '', 'old detail text')
    # -NoBuild: build.ps1 Test has built the bench tool (it is in QemuGuest.slnx) and the agent.
    $script:Log = & $Pwsh -NoProfile -NonInteractive -File $Bench -Quick -NoBuild -ModulePath $env:QEMUGUEST_MODULE_PATH -OutFile $Out 2>&1 | Out-String
    $script:Exit = $LASTEXITCODE
    $script:Text = if (Test-Path $Out) { Get-Content -Raw $Out } else { '' }
    $script:Lines = $Text -split "`n"
    # The summary table: from its header to the first line that is not a table row.
    $start = [array]::IndexOf($Lines, '| what | ours | stock qemu-ga | ratio (ours ÷ stock) | ceiling | previous run (2000-01-02 03:04): ours / stock | command |')
    $script:Summary = if ($start -ge 0) { @($Lines[($start + 2)..($Lines.Count - 1)] | ForEach-Object -Begin { $go = $true } { if ($go -and $_ -like '| *') { $_ } else { $go = $false } }) } else { @() }
}

Describe 'build.ps1 Bench -Quick (bench/Invoke-Bench.ps1)' {
    It 'runs every local area and exits 0' {
        $Exit | Should -Be 0 -Because $Log
        $Text | Should -Not -Match 'Failed in this run'
    }

    It 'writes the summary table with its header and at least one row per area' {
        $Summary.Count | Should -BeGreaterOrEqual 20 -Because "the summary table must have rows; log:`n$Log"
        foreach ($what in 'host→guest 1 MiB', 'guest→host 1 MiB', 'agent peak RSS', 'guest-ping round trip p50, direct', 'through the relay', 'relay overhead',
            'agent binary size', 'first guest-ping reply', 'idle RSS', 'Import-Module', 'first command', 'peak RSS of the driving pwsh', 'peak RSS of the relay',
            'ReaderBenchmarks', 'WriterBenchmarks', 'MarshallingBenchmarks', 'DispatcherBenchmarks',
            'empty script block, PowerShell Direct session', '10,000 [pscustomobject]s, PowerShell Direct session') {
            @($Summary | Where-Object { $_.Contains($what) }).Count | Should -BeGreaterThan 0 -Because "a row about '$what' is expected"
        }
    }

    It 'fills every row with seven cells: numbers or a dash, a labelled ratio, the previous figures, a command' {
        foreach ($row in $Summary) {
            $cells = @($row.Trim().Trim('|') -split '\s\|\s' | ForEach-Object Trim)
            $cells.Count | Should -Be 7 -Because $row
            $cells[1] | Should -Match '^(—|[\d,.]+|[\d,.]+ [nµμm]?s; ([\d,.]+ (B|KB|MB)|-))$' -Because "ours in: $row"
            $cells[1] | Should -Not -Be '—' -Because "every row has a figure of ours: $row"
            $cells[2] | Should -Match '^(—|[\d,.]+)$' -Because "stock in: $row"
            $cells[3] | Should -Match '^(—|\d+\.\d\d \((ours better|ours worse|about equal)\))$' -Because "ratio in: $row"
            if ($cells[2] -ne '—' -and $cells[2] -ne '0') { $cells[3] | Should -Not -Be '—' -Because "a row with both figures has a ratio: $row" }
            $cells[4] | Should -Match '^(—|[\d,.]+)$' -Because "ceiling in: $row"
            $cells[5] | Should -Match '^(—|.+ / .+)$' -Because "previous figures in: $row"
            $cells[6] | Should -Match '^`(dotnet|python3) .+`$' -Because "command in: $row"
        }
    }

    It 'keeps the sections measured by hand and shows the previous run''s figures beside the new ones' {
        $Text | Should -Match 'kept text 1f2e'
        $Text.IndexOf('## Measured by hand') | Should -BeLessThan $Text.IndexOf('## Summary')
        $row = @($Summary | Where-Object { $_ -like '| agent binary size, MB |*' })
        $row.Count | Should -Be 1
        ($row[0].Trim().Trim('|') -split '\s\|\s')[5].Trim() | Should -Be '123.45 / 6.78'
        @($Summary | Where-Object { $_ -like '| idle RSS*' } | ForEach-Object { ($_.Trim().Trim('|') -split '\s\|\s')[5].Trim() }) | Should -Contain '—'
        foreach ($gone in 'old machine line zz9', 'Old detail qq8') { $Text | Should -Not -Match $gone }
    }

    It 'compares the transfer and latency rows against a measured ceiling' {
        $ceilings = @($Summary | Where-Object { $_ -match 'host→guest|guest-ping round trip' } | ForEach-Object { ($_.Trim().Trim('|') -split '\s\|\s')[4].Trim() })
        $ceilings.Count | Should -BeGreaterThan 0
        $ceilings | Should -Not -Contain '—'
    }

    It 'records the machine facts and the load' {
        foreach ($fact in '- CPU: ', 'cores', 'load average (1, 5, 15 min) before: ', '; after: ', 'kernel ', '- .NET ', 'qemu-ga ', 'QUICK RUN') {
            $Text | Should -Match ([regex]::Escape($fact))
        }
        $Text | Should -Match 'on \d{4}-\d\d-\d\d \d\d:\d\d UTC'
    }

    It 'has a detail section per area' {
        foreach ($h in '### Transfer', '### Latency', '### Agent footprint', '### Module', '### Scale', '### Micro-benchmarks', '### PowerShell Direct (issue 20)') {
            $Lines | Should -Contain $h
        }
    }

    It 'names an unknown area and lists the known ones' {
        $err = & $Pwsh -NoProfile -NonInteractive -File $Bench -Quick -NoBuild -Area 'no-such-area' -OutFile (Join-Path $TestDrive 'x.md') 2>&1 | Out-String
        $LASTEXITCODE | Should -Not -Be 0
        # The error view wraps long messages and frames them with '|'.
        $err = $err -replace '(?m)^\s*\|', ' ' -replace '\s+', ' '
        $err | Should -Match "no benchmark area matches -Area no-such-area"
        $err | Should -Match 'known: .*transfer'
        Join-Path $TestDrive 'x.md' | Should -Not -Exist
    }
}
