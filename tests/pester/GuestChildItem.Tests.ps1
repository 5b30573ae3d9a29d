# Get-VMGuestChildItem against real agents on this machine (Debian's qemu-ga through find over
# guest-exec, and ours through its list extension): the "guest" is this host, so each listing is
# compared with what Get-ChildItem says about the same folder.

BeforeDiscovery {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    $script:Kinds = @('Stock') + @(if (Get-OurAgentPath) { 'Ours' })
}

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    . (Join-Path $PSScriptRoot 'AgentHelpers.ps1')
}

Describe 'Get-VMGuestChildItem against the <_> agent' -ForEach $Kinds {
    BeforeAll {
        $script:Kind = $_
        $script:Agent, $script:S = Start-AgentSession -Kind $Kind -Name "ls-$Kind"
        $script:T = Join-Path ([IO.Path]::GetTempPath()) ("qg-ls-" + [guid]::NewGuid().ToString('n').Substring(0, 10))
        $null = New-Item -ItemType Directory -Path "$T/tree/sub/deeper", "$T/tree/empty", "$T/elsewhere"
        Set-Content -Path "$T/tree/a.txt" -Value 'alpha' -NoNewline
        Set-Content -Path "$T/tree/b.log" -Value 'bravo!' -NoNewline
        Set-Content -Path "$T/tree/sub/c.log" -Value 'charlie' -NoNewline
        Set-Content -Path "$T/tree/sub/deeper/d.txt" -Value 'delta' -NoNewline
        Set-Content -Path "$T/elsewhere/hidden.txt" -Value 'not in the tree'
        $null = New-Item -ItemType SymbolicLink -Path "$T/tree/link" -Target "$T/elsewhere"
        chmod 0640 "$T/tree/a.txt"
        chmod 4755 "$T/tree/b.log"
        (Get-Item "$T/tree/a.txt").LastWriteTimeUtc = [DateTime]::new(2001, 2, 3, 4, 5, 6, [DateTimeKind]::Utc)
    }

    AfterAll {
        Stop-AgentSession $Agent -AllSessions
        Remove-Item -Recurse -Force $T -ErrorAction SilentlyContinue
    }

    It 'writes one object per item, in name order, with the properties Get-ChildItem has' {
        $items = @(Get-VMGuestChildItem -Session $S "$T/tree")
        $items.Name | Should -Be @('a.txt', 'b.log', 'empty', 'link', 'sub')
        $items.FullName | Should -Be @("$T/tree/a.txt", "$T/tree/b.log", "$T/tree/empty", "$T/tree/link", "$T/tree/sub")
        $items.Type | Should -Be @('File', 'File', 'Directory', 'SymbolicLink', 'Directory')
        $items.VMName | Sort-Object -Unique | Should -Be "ls-$Kind"
        $items[0] | Should -BeOfType 'QemuGuest.Cmdlets.Tasks.GuestChildItem'
        $items[0].Length | Should -Be 5
        $items[1].Length | Should -Be 6
        # Mode reads as ls shows it, and as pwsh shows the same local item.
        $items[0].Mode | Should -BeExactly '-rw-r-----'
        $items[1].Mode | Should -BeExactly '-rwsr-xr-x'
        $items[0].UnixMode | Should -Be ([Convert]::ToInt32('640', 8))
        foreach ($i in $items) { $i.Mode | Should -BeExactly (Get-Item -Force $i.FullName).UnixMode -Because $i.Name }
        $items[0].LastWriteTime | Should -BeOfType ([datetime])
        $items[0].LastWriteTime.ToUniversalTime() | Should -Be ([DateTime]::new(2001, 2, 3, 4, 5, 6, [DateTimeKind]::Utc))
        $items[0].LastWriteTime.Kind | Should -Be 'Local'
        $items[0].LastWriteTimeNanoseconds | Should -Be 981173106000000000
    }

    It 'filters with Where-Object, and -Recurse lists the tree without following the link' {
        $all = @(Get-VMGuestChildItem -Session $S "$T/tree" -Recurse)
        $all.FullName | Should -Be @("$T/tree/a.txt", "$T/tree/b.log", "$T/tree/empty", "$T/tree/link", "$T/tree/sub",
            "$T/tree/sub/c.log", "$T/tree/sub/deeper", "$T/tree/sub/deeper/d.txt")
        $all.Name | Should -Not -Contain 'hidden.txt'
        @($all | Where-Object Type -EQ 'File' | Where-Object Length -GT 5).Name | Should -Be @('b.log', 'c.log')
    }

    It '-Filter keeps matching names at every level; wildcards in the path match in its folder' {
        @(Get-VMGuestChildItem -Session $S "$T/tree" -Recurse -Filter '*.log').FullName | Should -Be @("$T/tree/b.log", "$T/tree/sub/c.log")
        @(Get-VMGuestChildItem -Session $S "$T/tree/*.txt").FullName | Should -Be @("$T/tree/a.txt")
        @(Get-VMGuestChildItem -Session $S "$T/tree/s?b" -Recurse).FullName | Should -Be @("$T/tree/sub", "$T/tree/sub/c.log", "$T/tree/sub/deeper", "$T/tree/sub/deeper/d.txt")
        @(Get-VMGuestChildItem -Session $S "$T/tree/*.none") | Should -BeNullOrEmpty
    }

    It 'a file lists as itself' {
        $f = Get-VMGuestChildItem -Session $S "$T/tree/sub/deeper/d.txt"
        $f.FullName | Should -Be "$T/tree/sub/deeper/d.txt"
        $f.Length | Should -Be 5
        $f.Type | Should -Be 'File'
    }

    It 'pipes into Copy-VMGuestFile -GuestToLocal by FullName' {
        $dest = Join-Path $T "fetched-$Kind"
        $null = New-Item -ItemType Directory -Path $dest
        Get-VMGuestChildItem -Session $S "$T/tree" -Recurse -Filter '*.log' | Copy-VMGuestFile -Session $S -GuestToLocal -Destination "$dest/"
        (Get-ChildItem $dest).Name | Sort-Object | Should -Be @('b.log', 'c.log')
        Get-Content -Raw "$dest/c.log" | Should -Be 'charlie'
    }

    It 'pipes into Remove-VMGuestItem by FullName (QemuGuest agent: the remove extension)' -Skip:($_ -ne 'Ours') {
        $null = New-Item -ItemType Directory -Path "$T/scratch"
        Set-Content "$T/scratch/x.tmp", "$T/scratch/y.tmp", "$T/scratch/keep.txt" -Value 'x'
        Get-VMGuestChildItem -Session $S "$T/scratch/*.tmp" | Remove-VMGuestItem -Session $S -Confirm:$false
        (Get-ChildItem "$T/scratch").Name | Should -Be @('keep.txt')
    }

    It 'a relative path is RelativeGuestPath naming it; nothing is listed' {
        $r = @(Get-VMGuestChildItem -Session $S 'tree/sub' -ErrorVariable err -ErrorAction SilentlyContinue)
        $r | Should -BeNullOrEmpty
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'RelativeGuestPath,*'
        $err[0].CategoryInfo.Category | Should -Be 'InvalidArgument'
        $err[0].Exception.Message | Should -BeLike "*'tree/sub'*"
        $err[0].TargetObject | Should -Be 'tree/sub'
    }

    It 'a missing path is SourceNotFound naming the VM and the path; the other paths are still listed' {
        $r = @(Get-VMGuestChildItem -Session $S "$T/no-such", "$T/tree/sub" -ErrorVariable err -ErrorAction SilentlyContinue)
        $r.Name | Should -Be @('c.log', 'deeper')
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'SourceNotFound,*'
        $err[0].Exception.Message | Should -BeLike "*no-such*"
    }

    It 'formats as a table grouped by folder' {
        $text = Get-VMGuestChildItem -Session $S "$T/tree" | Out-String -Width 200
        $text | Should -Match ([regex]::Escape("ls-${Kind}:$T/tree"))
        $text | Should -Match '-rw-r-----\s+2001-02-0\d \d\d:05:06\s+5 a\.txt'
    }
}
