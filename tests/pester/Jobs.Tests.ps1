# -AsJob on the long-running cmdlets (issue 17), as Invoke-Command -AsJob: a job object at once,
# results and errors through Receive-Job, Stop-Job stops it like Ctrl+C. Against a real agent
# (Debian's qemu-ga); no ThreadJob module involved (Windows PowerShell 5.1 has none).

BeforeAll {
    Import-Module (Join-Path $env:QEMUGUEST_REPO_ROOT 'tools/LocalAgent.psm1') -Force
    Import-Module $env:QEMUGUEST_MODULE_PATH -Force
    . (Join-Path $PSScriptRoot 'AgentHelpers.ps1')
    $script:Agent, $script:S = Start-AgentSession -Kind Stock -Name 'pester-jobs'
    $script:T = Join-Path ([IO.Path]::GetTempPath()) ('qg-jobs-' + [guid]::NewGuid().ToString('n').Substring(0, 10))
    $null = New-Item -ItemType Directory -Path "$T/local", "$T/guest"
    Set-Content "$T/local/a.txt" 'in a job'
}

AfterAll {
    Get-Job | Where-Object PSJobTypeName -EQ 'GuestJob' | Remove-Job -Force
    Stop-AgentSession $Agent $S
    Remove-Item -Recurse -Force $T -ErrorAction SilentlyContinue
}

Describe 'Copy-VMGuestFile -AsJob' {
    It 'returns a job at once; Receive-Job gives the results, and relative paths mean the caller''s folder' {
        Push-Location "$T/local"
        try {
            $job = Copy-VMGuestFile -Session $S -LocalToGuest ./a.txt "$T/guest/" -PassThru -AsJob
        }
        finally { Pop-Location }
        $job | Should -BeOfType ([System.Management.Automation.Job])
        $job.PSJobTypeName | Should -Be 'GuestJob'
        $job.Location | Should -Be 'pester-jobs'
        (Get-Job -Id $job.Id).Id | Should -Be $job.Id
        $job | Wait-Job -Timeout 60 | Out-Null
        $job.State | Should -Be 'Completed'
        $r = $job | Receive-Job
        $r.Destination | Should -Be "$T/guest/a.txt"
        $r.VMName | Should -Be 'pester-jobs'
        Get-Content "$T/guest/a.txt" | Should -Be 'in a job'
        $job | Remove-Job
    }

    It 'hands a failed copy''s ErrorRecord (with its ErrorId) to Receive-Job' {
        $job = Copy-VMGuestFile -Session $S -LocalToGuest "$T/local/missing.txt" "$T/guest/" -AsJob
        $job | Wait-Job -Timeout 60 | Out-Null
        $err = $null
        $job | Receive-Job -ErrorVariable err -ErrorAction SilentlyContinue
        $err.Count | Should -Be 1
        $err[0].FullyQualifiedErrorId | Should -BeLike 'SourceNotFound,*'
        $job | Remove-Job
    }

    It 'with -WhatIf starts no job and copies nothing' {
        $before = @(Get-Job).Count
        Copy-VMGuestFile -Session $S -LocalToGuest "$T/local/a.txt" "$T/guest/whatif.txt" -AsJob -WhatIf | Should -BeNullOrEmpty
        @(Get-Job).Count | Should -Be $before
        "$T/guest/whatif.txt" | Should -Not -Exist
    }

    It 'Stop-Job stops a copy under way: state Stopped, no destination and no temporary file left' {
        $big = "$T/local/big.bin"
        $f = [IO.File]::Create($big); $f.SetLength(64MB); $f.Dispose()
        # 4 KiB blocks: thousands of requests, so the copy is still running when it is stopped.
        $job = Copy-VMGuestFile -Session $S -LocalToGuest $big "$T/guest/big.bin" -ChunkSize 4096 -AsJob
        $deadline = [DateTime]::UtcNow.AddSeconds(30)
        while (-not (Get-ChildItem "$T/guest" -Filter 'big.bin.qgtmp-*') -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
        $job.State | Should -Be 'Running'
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $job | Stop-Job
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 30
        $job.State | Should -Be 'Stopped'
        # The copy's cleanup (close the guest handle, remove the temporary file) may finish just
        # after the stop, as with Ctrl+C (CopyVMGuestFile.Tests): bounded wait for it.
        $deadline = [DateTime]::UtcNow.AddSeconds(20)
        while ((Get-ChildItem "$T/guest" -Filter 'big.bin.qgtmp-*') -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 100 }
        "$T/guest/big.bin" | Should -Not -Exist
        Get-ChildItem "$T/guest" -Filter 'big.bin.qgtmp-*' | Should -BeNullOrEmpty
        $job | Remove-Job -Force
    }
}

Describe 'Invoke-VMGuestCommand and Invoke-VMGuestScript -AsJob' {
    # "At once" without a clock: the guest program waits (60 s at most) for a gate file that this
    # test creates only after the cmdlet has returned. A cmdlet that waited for the program would
    # return a finished job whose output lacks "job".
    It '<Name> returns a job at once and its result through Receive-Job' -ForEach @(
        @{ Name = 'Invoke-VMGuestCommand'; Run = { param($Script) Invoke-VMGuestCommand -Session $S sh -ArgumentList '-c', $Script -AsJob } }
        @{ Name = 'Invoke-VMGuestScript'; Run = { param($Script) Invoke-VMGuestScript -Session $S $Script -ScriptType Sh -AsJob } }
    ) {
        $gate = Join-Path $T ('gate-' + [guid]::NewGuid().ToString('n'))
        $job = & $Run "i=0; until [ -e '$gate' ] || [ `$i -ge 600 ]; do sleep 0.1; i=`$((i+1)); done; [ -e '$gate' ] && echo job; exit 3"
        $job.State | Should -BeIn 'NotStarted', 'Running'
        $null = New-Item -ItemType File -Path $gate
        $job.PSJobTypeName | Should -Be 'GuestJob'
        $job | Wait-Job -Timeout 60 | Out-Null
        $job.State | Should -Be 'Completed'
        $r = $job | Receive-Job
        $r.ExitCode | Should -Be 3
        $r.StdOut | Should -Be "job`n"
        $r.VMName | Should -Be 'pester-jobs'
        $job | Remove-Job
    }

    It 'Stop-Job ends a waiting Invoke-VMGuestCommand job: state Stopped' {
        $job = Invoke-VMGuestCommand -Session $S sleep 300 -AsJob
        $deadline = [DateTime]::UtcNow.AddSeconds(10)
        while ($job.State -ne 'Running' -and [DateTime]::UtcNow -lt $deadline) { Start-Sleep -Milliseconds 50 }
        Start-Sleep -Milliseconds 500
        $clock = [Diagnostics.Stopwatch]::StartNew()
        $job | Stop-Job
        $clock.Elapsed.TotalSeconds | Should -BeLessThan 30
        $job.State | Should -Be 'Stopped'
        $job | Remove-Job -Force
    }
}
